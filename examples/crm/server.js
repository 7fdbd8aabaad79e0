'use strict'
// A tiny CRM: contacts as JSON over HTTP, kept in a file in the work dir. It listens
// on 127.0.0.1:PORT inside its own network namespace: clients reach it only through
// the DHT (scit connect), by contract key.
//   GET /health            → { ok, contacts }
//   GET /contacts          → [contact]
//   POST /contacts {name, email, company?} → contact
//   DELETE /contacts/:id
const http = require('http')
const fs = require('fs')
const crypto = require('crypto')

const PORT = Number(process.env.PORT || 8080)
const FILE = process.env.CRM_DATA || 'data.json'
const LIMIT = Number(process.env.CRM_USERS || 50) * 1000

let contacts = []
try {
  contacts = JSON.parse(fs.readFileSync(FILE, 'utf8'))
} catch {}

function save() {
  // write then rename: a crash never leaves half a file
  fs.writeFileSync(FILE + '.tmp', JSON.stringify(contacts))
  fs.renameSync(FILE + '.tmp', FILE)
}

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body) + '\n')
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = ''
    req.setEncoding('utf8')
    req.on('data', (d) => {
      data += d
      if (data.length > 1e5) req.destroy()
    })
    req.on('end', () => {
      try {
        resolve(JSON.parse(data || '{}'))
      } catch (err) {
        reject(err)
      }
    })
    req.on('error', reject)
  })
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x')
  try {
    if (req.method === 'GET' && url.pathname === '/health')
      return send(res, 200, { ok: true, contacts: contacts.length })
    if (req.method === 'GET' && url.pathname === '/contacts') return send(res, 200, contacts)
    if (req.method === 'POST' && url.pathname === '/contacts') {
      const b = await readBody(req)
      if (typeof b.name !== 'string' || typeof b.email !== 'string')
        return send(res, 400, { error: 'name and email are required' })
      if (contacts.length >= LIMIT)
        return send(res, 507, { error: 'contact limit reached for this plan' })
      const c = {
        id: crypto.randomUUID(),
        name: b.name,
        email: b.email,
        company: b.company || null,
        created: new Date().toISOString()
      }
      contacts.push(c)
      save()
      return send(res, 201, c)
    }
    const m = /^\/contacts\/([\w-]+)$/.exec(url.pathname)
    if (req.method === 'DELETE' && m) {
      const before = contacts.length
      contacts = contacts.filter((c) => c.id !== m[1])
      if (contacts.length === before) return send(res, 404, { error: 'no such contact' })
      save()
      return send(res, 200, { deleted: m[1] })
    }
    send(res, 404, { error: 'not found' })
  } catch (err) {
    send(res, 400, { error: err.message })
  }
})

server.listen(PORT, '127.0.0.1', () =>
  console.log(`crm listening on ${PORT}, ${contacts.length} contacts in ${FILE}`)
)
process.on('SIGTERM', () => server.close(() => process.exit(0)))
