import { randomBytes } from 'node:crypto';
import { formatCompoundKey, generateComponent, generateSecret } from '../../shared/keys/compound-key';
import { formatFederatedToken, generateFederatedSecret } from '../../shared/keys/federated-token';
import type { HttpFunctionDefinition } from '../../app/function-contract';

/** What a failure case may use: a live key of one customer, a revoked one, another customer's slug. */
export interface KeyFixtures {
  key: string;
  secret: string;
  revokedKey: string;
  otherSlug: string;
}

export interface ApiKeyFailureCase {
  name: string;
  code: 'api_key_missing' | 'api_key_malformed' | 'api_key_invalid' | 'component_invalid';
  headers: (f: KeyFixtures) => Record<string, string>;
  /** Malformed input must be refused without reaching storage; `undefined`: not fixed (a refresh may happen). */
  storageCalls: 0 | 1 | undefined;
}

/** The key with its 10th-from-last character changed (still well-formed, checksum now wrong). */
const typo = (key: string): string => {
  const at = key.length - 10;
  return `${key.slice(0, at)}${key[at] === 'A' ? 'B' : 'A'}${key.slice(at + 1)}`;
};
const randomKey = (slug: string) => formatCompoundKey({ slug, component: generateComponent(), secret: generateSecret() });
const slugOf = (key: string) => key.slice('vp_cust_'.length).split('.')[0]!;
/** A federated access token of the right shape and checksum that was never minted. */
const randomToken = (slug: string) => formatFederatedToken({ slug, secret: generateFederatedSecret() });

/** The API-key failures every protected function must answer the same way. */
export const API_KEY_FAILURE_CASES: ApiKeyFailureCase[] = [
  { name: 'no key at all', code: 'api_key_missing', storageCalls: 0, headers: () => ({}) },
  { name: 'empty X-API-Key', code: 'api_key_missing', storageCalls: 0, headers: () => ({ 'x-api-key': '' }) },
  {
    name: 'Authorization with another scheme',
    code: 'api_key_missing',
    storageCalls: 0,
    headers: (f) => ({ authorization: `Basic ${Buffer.from(`u:${f.key}`).toString('base64')}` }),
  },
  { name: 'X-API-Key that is not a key', code: 'api_key_malformed', storageCalls: 0, headers: () => ({ 'x-api-key': 'not-a-key' }) },
  {
    name: 'X-API-Key with a truncated secret',
    code: 'api_key_malformed',
    storageCalls: 0,
    headers: (f) => ({ 'x-api-key': f.key.slice(0, -1) }),
  },
  {
    name: 'X-API-Key with an upper-case slug',
    code: 'api_key_malformed',
    storageCalls: 0,
    headers: (f) => ({ 'x-api-key': f.key.replace(/^vp_cust_([a-z0-9-]+)/, (_m, s: string) => `vp_cust_${s.toUpperCase()}`) }),
  },
  {
    name: 'X-API-Key whose component is not well formed',
    code: 'api_key_malformed',
    storageCalls: 0,
    headers: (f) => ({ 'x-api-key': f.key.replace(/\.[A-Za-z0-9]{32}\./, `.${'-'.repeat(32)}.`) }),
  },
  { name: 'X-API-Key of 4 KiB', code: 'api_key_malformed', storageCalls: 0, headers: () => ({ 'x-api-key': 'k'.repeat(4096) }) },
  { name: 'Bearer that is not a key', code: 'api_key_malformed', storageCalls: 0, headers: () => ({ authorization: 'Bearer not-a-key' }) },
  {
    name: 'Bearer with a JWT',
    code: 'api_key_malformed',
    storageCalls: 0,
    headers: () => ({ authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln' }),
  },
  {
    name: 'Bearer with only the secret segment',
    code: 'api_key_malformed',
    storageCalls: 0,
    headers: (f) => ({ authorization: `Bearer ${f.secret}` }),
  },
  { name: 'Bearer with no token', code: 'api_key_malformed', storageCalls: 0, headers: () => ({ authorization: 'Bearer ' }) },
  // Well-formed, but the checksum is wrong (a typo, a guess, a lookalike): refused unread.
  {
    name: 'compound key with a one-character typo',
    code: 'api_key_malformed',
    storageCalls: 0,
    headers: (f) => ({ 'x-api-key': typo(f.key) }),
  },
  {
    name: 'bare secret with a one-character typo',
    code: 'api_key_malformed',
    storageCalls: 0,
    headers: (f) => ({ 'x-api-key': typo(f.secret) }),
  },
  {
    name: 'well-formed random bare secret (no checksum)',
    code: 'api_key_malformed',
    storageCalls: 0,
    headers: () => ({ 'x-api-key': randomBytes(32).toString('base64url') }),
  },
  { name: 'unknown compound key', code: 'api_key_invalid', storageCalls: 1, headers: (f) => ({ 'x-api-key': randomKey(slugOf(f.key)) }) },
  { name: 'unknown bare secret', code: 'api_key_invalid', storageCalls: 1, headers: () => ({ 'x-api-key': generateSecret() }) },
  {
    name: 'unknown key as Bearer',
    code: 'api_key_invalid',
    storageCalls: 1,
    headers: (f) => ({ authorization: `Bearer ${randomKey(slugOf(f.key))}` }),
  },
  // Revoked by this instance: remembered as revoked, refused without a read.
  { name: 'revoked key', code: 'api_key_invalid', storageCalls: 0, headers: (f) => ({ 'x-api-key': f.revokedKey }) },
  {
    name: 'revoked key as Bearer',
    code: 'api_key_invalid',
    storageCalls: 0,
    headers: (f) => ({ authorization: `Bearer ${f.revokedKey}` }),
  },
  {
    name: "valid secret under another customer's slug",
    code: 'api_key_invalid',
    storageCalls: 1,
    headers: (f) => ({ 'x-api-key': f.key.replace(/^vp_cust_[a-z0-9-]+\./, `vp_cust_${f.otherSlug}.`) }),
  },
  // Federated access tokens take the same door: their failures answer the same way.
  {
    name: 'federated token with a one-character typo',
    code: 'api_key_malformed',
    storageCalls: 0,
    headers: (f) => ({ authorization: `Bearer ${typo(randomToken(slugOf(f.key)))}` }),
  },
  {
    name: 'federated token without its secret',
    code: 'api_key_malformed',
    storageCalls: 0,
    headers: (f) => ({ 'x-api-key': `vp_fed_${slugOf(f.key)}.` }),
  },
  {
    name: 'unknown federated token',
    code: 'api_key_invalid',
    storageCalls: 1,
    headers: (f) => ({ 'x-api-key': randomToken(slugOf(f.key)) }),
  },
  {
    name: 'unknown federated token as Bearer',
    code: 'api_key_invalid',
    storageCalls: 1,
    headers: (f) => ({ authorization: `Bearer ${randomToken(slugOf(f.key))}` }),
  },
  // A key's secret never passes for a token's, nor a token's for a key's: each fails the other's checksum.
  {
    name: "a key's secret in a federated token",
    code: 'api_key_malformed',
    storageCalls: 0,
    headers: (f) => ({ 'x-api-key': `vp_fed_${slugOf(f.key)}.${f.secret}` }),
  },
  {
    name: "a federated token's secret as a bare key",
    code: 'api_key_malformed',
    storageCalls: 0,
    headers: () => ({ 'x-api-key': generateFederatedSecret() }),
  },
  {
    name: "a federated token's secret in a compound key",
    code: 'api_key_malformed',
    storageCalls: 0,
    headers: (f) => ({
      'x-api-key': formatCompoundKey({ slug: slugOf(f.key), component: generateComponent(), secret: generateFederatedSecret() }),
    }),
  },
  {
    name: "whole key with a component that is not the customer's",
    code: 'component_invalid',
    storageCalls: undefined,
    headers: (f) => ({ 'x-api-key': f.key.replace(/\.[A-Za-z0-9]{32}\./, `.${'Z'.repeat(32)}.`) }),
  },
  {
    name: 'secret with a wrong component in x-functions-key',
    code: 'component_invalid',
    storageCalls: undefined,
    headers: (f) => ({ 'x-api-key': f.secret, 'x-functions-key': 'Z'.repeat(32) }),
  },
  {
    name: 'secret with a malformed x-functions-key',
    code: 'component_invalid',
    storageCalls: undefined,
    headers: (f) => ({ 'x-api-key': f.secret, 'x-functions-key': 'not-a-component' }),
  },
  {
    name: 'whole key with a different x-functions-key',
    code: 'component_invalid',
    storageCalls: 0,
    headers: (f) => ({ 'x-api-key': f.key, 'x-functions-key': 'Z'.repeat(32) }),
  },
];

/** A concrete path for a route template (parameters get harmless sample values). */
export function samplePath(definition: HttpFunctionDefinition): string {
  return `/${definition.route.replace(/\{\*?([A-Za-z0-9_]+)(:[a-z]+)?\??\}/g, (_m, name: string) => `sample-${name}`)}`;
}
