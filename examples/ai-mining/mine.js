'use strict'
// Term-frequency mining: for each input file, its `top` most frequent words;
// then the same over the whole corpus. Deterministic output (sorted keys,
// ties broken alphabetically), so replicas over the same input agree on the digest.
//   node mine.js --top=10 --min-length=4 --out=result.json FILE...
const fs = require('fs')

const args = process.argv.slice(2)
const opt = (name, def) => {
  const a = args.find((x) => x.startsWith(`--${name}=`))
  return a ? a.slice(name.length + 3) : def
}
const files = args.filter((a) => !a.startsWith('--'))
const top = Number(opt('top', 10))
const minLength = Number(opt('min-length', 4))
const out = opt('out', 'result.json')

function count(text, into) {
  for (const w of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) || [])
    if (w.length >= minLength) into.set(w, (into.get(w) || 0) + 1)
  return into
}

function best(counts) {
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, top)
    .map(([term, n]) => ({ term, n }))
}

const all = new Map()
const documents = {}
for (const f of files.sort()) {
  const text = fs.readFileSync(f, 'utf8')
  documents[f] = best(count(text, new Map()))
  count(text, all)
}
const result =
  JSON.stringify({ files: files.length, top, minLength, documents, corpus: best(all) }, null, 2) +
  '\n'
fs.writeFileSync(out, result)
// The node reports the BLAKE2b-256 of `out` in its signed status core: that digest, not one printed here, is what bots compare.
console.log(
  `mined ${files.length} files → ${out} (${result.length} bytes), top terms: ${best(all)
    .slice(0, 3)
    .map((t) => t.term)
    .join(', ')}`
)
