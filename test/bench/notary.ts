/**
 * Notary throughput: hash, write and read+verify one file of SIZE MiB (default 20)
 * through a contract core in a local Corestore.
 *   node dist/test/bench/notary.js [MiB]
 */
import fs from 'fs'
import os from 'os'
import path from 'path'
import crypto from 'crypto'
import Corestore from 'corestore'
import { generateKeyPair } from '../../lib/identity'
import { readContract } from '../../lib/contract'
import { ContractWriter } from '../../bot/notary'
import { loadTemplate } from '../../bot/template'
import { instantiate } from '../../bot/manifest'

async function main(mib: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scit-notary-bench-'))
  const big = path.join(dir, 'data.bin')
  fs.writeFileSync(big, crypto.randomBytes(mib * 1024 * 1024))
  fs.writeFileSync(
    path.join(dir, 't.yaml'),
    'name: b\nversion: 1\nworkloads:\n  - { name: w, kind: job, command: ["true"], files: [data.bin] }\nduration: 1h\nbudget: 1\n'
  )
  const ms = (since: bigint): number => Number(process.hrtime.bigint() - since) / 1e6
  let s = process.hrtime.bigint()
  const inst = await instantiate(loadTemplate(path.join(dir, 't.yaml')))
  const hashMs = ms(s)
  const store = new Corestore(path.join(dir, 'store'))
  const bot = generateKeyPair()
  const w = new ContractWriter({ store, identity: bot, contractId: 'bench' })
  await w.ready()
  await w.writeHeader(inst.manifest)
  s = process.hrtime.bigint()
  const ref = await w.appendFile(big, { workload: 'w', path: 'data.bin' })
  const writeMs = ms(s)
  await w.appendInstruction({ action: 'deploy', files: [ref] })
  const view = await readContract(w.core, {
    coreKey: w.key,
    botKey: bot.publicKey,
    manifestHash: inst.hash
  })
  s = process.hrtime.bigint()
  await view.fetchFile(ref, path.join(dir, 'out.bin'))
  const readMs = ms(s)
  const rate = (t: number): string => `${(mib / (t / 1000)).toFixed(1)} MiB/s (${t.toFixed(0)} ms)`
  console.log(
    `notary ${mib} MiB: hash ${rate(hashMs)}, write ${rate(writeMs)}, read+verify ${rate(readMs)}`
  )
  await w.close()
  await store.close()
  fs.rmSync(dir, { recursive: true, force: true })
}

main(Number(process.argv[2] ?? 20)).catch((err) => {
  console.error(err)
  process.exit(1)
})
