/**
 * The template document as written by an expert, after the schema accepted
 * it (template-schema.ts). `Expr` fields hold a literal or a string with
 * `${…}` expressions over the parameters (expressions.ts).
 */
import type { ResourceKind } from '../lib/resources'
import type { WorkloadKind, RestartPolicy } from '../lib/workload-kinds'

export type Expr = string | number

export interface ParameterDecl {
  type: 'int' | 'string' | 'enum' | 'size' | 'bool'
  default?: string | number | boolean
  min?: string | number
  max?: string | number
  values?: string[]
  pattern?: string
  description?: string
}

export interface WorkloadDecl {
  name: string
  kind: WorkloadKind
  description?: string
  files?: string[]
  command?: Expr[]
  env?: Record<string, Expr>
  ports?: Expr[]
  restart?: RestartPolicy
  resources?: Partial<Record<ResourceKind, Expr>>
  replicas?: Expr
  budget?: Expr
  output?: string
  /** kind job with an output: how long its node keeps the output after the lease; default DEFAULT_RETAIN. */
  retain?: Expr
  /** "public", or keys and roles; default: the bot and its stakeholders. */
  access?: 'public' | string[]
  /** Refused: workloads run without outbound network. */
  egress?: unknown
  /** kind service: files or folders of its work dir that hold its data (snapshotted by its node). */
  state?: string[]
  /** How often the node snapshots the state when it changed; default DEFAULT_STATE_INTERVAL. */
  stateInterval?: Expr
  /** kind mirror: bytes to keep whole on each replica, copied from `source` (else the contract's files). */
  mirror?: { size: Expr; source?: string }
  /** kind archive: `size` bytes coded `data` + `parity`; a holder keeps at most `shard` bytes, paid at most `price` per GiB-hour. */
  archive?: { size: Expr; data: Expr; parity: Expr; shard?: Expr; price?: Expr }
}

export interface TemplateDoc {
  name: string
  version: number
  description?: string
  parameters?: Record<string, ParameterDecl>
  workloads: WorkloadDecl[]
  placement?: { countries?: Expr[]; attributes?: Expr[]; spread?: boolean | string }
  duration: Expr
  budget: Expr
  stakeholders?: {
    threshold: number
    signers: Array<{ key: string; role: string; weight?: number; name?: string }>
  }
}
