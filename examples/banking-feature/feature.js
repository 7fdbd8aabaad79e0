'use strict'
// Instant-payment limits: decides per customer whether the feature is on
// (a stable hash of the customer id against the rollout percentage) and
// what the daily limit is.
//   GET /version                → { release }
//   GET /limit?customer=ID      → { customer, enabled, limit }
const http = require('http')
const crypto = require('crypto')

const PORT = Number(process.env.PORT || 9090)
const RELEASE = process.env.RELEASE || '0.0.0'
const ROLLOUT = Number(process.env.ROLLOUT_PERCENT || 0)
const LIMIT = Number(process.env.DAILY_LIMIT || 0)

function bucket (customer) {
  // stable across restarts and replicas: the same customer always lands in the same bucket
  return crypto.createHash('sha256').update(customer).digest().readUInt16BE(0) % 100
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x')
  const send = (status, body) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body) + '\n') }
  if (url.pathname === '/version') return send(200, { release: RELEASE, rollout: ROLLOUT })
  if (url.pathname === '/limit') {
    const customer = url.searchParams.get('customer')
    if (!customer) return send(400, { error: 'customer is required' })
    const enabled = bucket(customer) < ROLLOUT
    return send(200, { customer, enabled, limit: enabled ? LIMIT : null })
  }
  send(404, { error: 'not found' })
})

server.listen(PORT, '127.0.0.1', () => console.log(`limits ${RELEASE} on ${PORT}, rollout ${ROLLOUT}%`))
process.on('SIGTERM', () => server.close(() => process.exit(0)))
