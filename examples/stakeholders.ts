/**
 * The examples' stakeholders: key pairs derived from public seeds, so that
 * examples/*.yaml can name them and the demo, the tests and anyone trying the
 * examples by hand (`scit demo stakeholder legal --data ./legal`) can sign as
 * them. Anyone can: never name these keys in a real contract.
 */
import b4a from 'b4a'
import { generateKeyPair, KeyPair } from '../lib/identity'
import { hash } from '../lib/keys'

export const EXAMPLE_ROLES = ['legal', 'it', 'budget'] as const
export type ExampleRole = (typeof EXAMPLE_ROLES)[number]

export function exampleStakeholder(role: ExampleRole): KeyPair {
  return generateKeyPair(hash('scit/example-stakeholder', b4a.from(role)))
}
