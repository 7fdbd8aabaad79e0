/**
 * Reading a template's YAML as a stranger may have written it: a size cap
 * before anything is parsed, nesting measured on the lexer's flat token
 * stream (the parser and composer recurse, and take seconds on a deep
 * document before their stack overflows), and aliases bounded when expanded
 * (yaml's maxAliasCount). Each refusal is a located problem, never a crash.
 */
import fs from 'fs'
import { parseDocument, LineCounter, Lexer, CST, Document } from 'yaml'
import { LIMITS } from '../market/messages'
import { notRegular } from '../lib/datadir'

/** A template can be published (market/messages LIMITS.template), so no larger one is read. */
export const MAX_TEMPLATE_BYTES = LIMITS.template
/** Far beyond any real template (the schema's deepest path is 5 levels). */
export const MAX_DEPTH = 64

export interface YamlProblem {
  offset: number
  message: string
}

export type YamlResult =
  | { ok: true; ydoc: Document; lines: LineCounter; doc: unknown }
  | { ok: false; lines: LineCounter; problems: YamlProblem[] }

/** The bytes of a template file, refusing what is not a regular file or is over the cap; null with the reason. */
export function readTemplateFile(
  file: string
): { src: string } | { why: string; code: 'NOT_FOUND' | 'TEMPLATE' } {
  if (notRegular(file)) return { code: 'TEMPLATE', why: `${file} is not a regular file` }
  let fd: number
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
  } catch (err) {
    return { code: 'NOT_FOUND', why: `cannot read template ${file}: ${(err as Error).message}` }
  }
  try {
    const st = fs.fstatSync(fd)
    if (!st.isFile()) return { code: 'TEMPLATE', why: `${file} is not a regular file` }
    if (st.size > MAX_TEMPLATE_BYTES) return { code: 'TEMPLATE', why: tooLarge(file, st.size) }
    const buf = Buffer.alloc(MAX_TEMPLATE_BYTES + 1)
    const n = fs.readSync(fd, buf, 0, buf.byteLength, 0)
    if (n > MAX_TEMPLATE_BYTES) return { code: 'TEMPLATE', why: tooLarge(file, n) }
    return { src: buf.subarray(0, n).toString('utf8') }
  } finally {
    fs.closeSync(fd)
  }
}

function tooLarge(file: string, size: number): string {
  return `${file} is ${size} bytes: a template is at most ${MAX_TEMPLATE_BYTES} bytes (what the market publishes); ship data in its files`
}

export function readYaml(src: string): YamlResult {
  const lines = new LineCounter()
  if (src.length > MAX_TEMPLATE_BYTES)
    return {
      ok: false,
      lines,
      problems: [
        {
          offset: 0,
          message: `the template is ${src.length} characters: at most ${MAX_TEMPLATE_BYTES}`
        }
      ]
    }
  const deep = tooDeep(src)
  if (deep !== null) {
    lines.addNewLine(0)
    for (let i = src.indexOf('\n'); i !== -1; i = src.indexOf('\n', i + 1)) lines.addNewLine(i + 1)
    return {
      ok: false,
      lines,
      problems: [{ offset: deep, message: `YAML: nested more than ${MAX_DEPTH} levels deep` }]
    }
  }
  const ydoc = parseDocument(src, { lineCounter: lines, prettyErrors: false })
  if (ydoc.errors.length)
    return {
      ok: false,
      lines,
      problems: ydoc.errors.map((e) => ({
        offset: e.pos[0],
        message: `YAML: ${e.message.split('\n')[0]}`
      }))
    }
  try {
    return { ok: true, ydoc, lines, doc: ydoc.toJS() }
  } catch (err) {
    // yaml throws a ReferenceError when aliases expand past maxAliasCount (a "billion laughs")
    return {
      ok: false,
      lines,
      problems: [{ offset: 0, message: `YAML: ${(err as Error).message} (aliases expand too far)` }]
    }
  }
}

/**
 * The offset where nesting first passes MAX_DEPTH, else null: flow brackets
 * count one level each; in block context, each indentation level and each
 * `-`, `?` or `:` on a line counts one (an over-estimate, never an under-one).
 */
const CONTROL = new Set([CST.DOCUMENT, CST.FLOW_END, CST.SCALAR])

function tooDeep(src: string): number | null {
  let offset = 0
  let flow = 0
  let indents: number[] = []
  let onLine = 0
  let lineStart = true
  let skipNext = false
  for (const tok of new Lexer().lex(src)) {
    const at = offset
    // the lexer's control tokens (document, scalar and flow-end markers) are not in the source
    if (!CONTROL.has(tok)) offset += tok.length
    if (skipNext) {
      // the text of a scalar: whatever it holds is not structure; a block scalar ends its last line
      skipNext = false
      lineStart = tok.endsWith('\n')
      if (lineStart) onLine = 0
      continue
    }
    const type = CST.tokenType(tok)
    if (type === 'scalar') {
      skipNext = true
      continue
    }
    if (type === 'newline') {
      lineStart = true
      onLine = 0
      continue
    }
    if (lineStart && flow === 0) {
      const indent = type === 'space' ? tok.length : 0
      indents = indents.filter((x) => x < indent)
      indents.push(indent)
    }
    lineStart = false
    if (type === 'flow-seq-start' || type === 'flow-map-start') flow++
    else if ((type === 'flow-seq-end' || type === 'flow-map-end') && flow > 0) flow--
    else if (type === 'seq-item-ind' || type === 'explicit-key-ind' || type === 'map-value-ind')
      onLine++
    if (flow + indents.length + onLine > MAX_DEPTH) return at
  }
  return null
}
