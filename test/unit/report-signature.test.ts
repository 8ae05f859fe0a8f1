import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { KEY_LIST_MAX_AGE_MS, ReportSignatureVerifier, UNKNOWN_KEY_REFRESH_MS } from '../../shared/secret-scanning/report-signature';
import { ManualClock } from '../../shared/clock';
import { DependencyUnavailableError } from '../../shared/errors';
import type { PublishedKey, PublishedKeySource, PublishedKeysRead } from '../../shared/ports/signing-keys';
import { recordingLogger } from '../support/services';

/** A key list in memory: what it publishes, whether it is up, and every read with the version it was asked about. */
class MemoryKeyList implements PublishedKeySource {
  keys: PublishedKey[] = [];
  up = true;
  version = 'v1';
  readonly reads: Array<string | undefined> = [];
  gate: Promise<void> = Promise.resolve();

  async read(version?: string): Promise<PublishedKeysRead> {
    this.reads.push(version);
    await this.gate;
    if (!this.up) throw new DependencyUnavailableError('GitHub secret-scanning keys');
    if (version === this.version) return { status: 'not_modified' };
    return { status: 'fetched', keys: [...this.keys], version: this.version };
  }
}

function keyPair(curve = 'prime256v1'): { privateKey: KeyObject; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
  return { privateKey, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

const body = Buffer.from('[{"token":"t","type":"veriproof_api_key","url":"","source":"content"}]');

describe('ReportSignatureVerifier', () => {
  let list: MemoryKeyList;
  let clock: ManualClock;
  let verifier: ReportSignatureVerifier;
  const signer = keyPair();
  const signature = sign('sha256', body, signer.privateKey).toString('base64');

  beforeEach(() => {
    list = new MemoryKeyList();
    list.keys = [{ id: 'k1', pem: signer.pem }];
    clock = new ManualClock();
    verifier = new ReportSignatureVerifier(list, clock, recordingLogger());
  });

  it('accepts the signature of a published key over the exact bytes, and nothing else', async () => {
    expect(await verifier.verify('k1', signature, body)).toBe('valid');
    const changed = Buffer.from(body);
    changed.writeUInt8(changed.readUInt8(changed.length - 3) ^ 1, changed.length - 3);
    expect(await verifier.verify('k1', signature, changed)).toBe('invalid');
    const other = keyPair();
    expect(await verifier.verify('k1', sign('sha256', body, other.privateKey).toString('base64'), body)).toBe('invalid');
    expect(await verifier.verify('k1', Buffer.from('not DER at all, just text').toString('base64'), body)).toBe('invalid');
    expect(list.reads).toHaveLength(1);
  });

  it('refuses headers far from the format without reading the list', async () => {
    for (const [id, sig] of [
      ['k1', 'not base64!'],
      ['k1', 'QUJD'],
      ['../../etc', signature],
      ['k'.repeat(200), signature],
    ] as const) {
      expect(await verifier.verify(id, sig, body)).toBe('invalid');
    }
    expect(list.reads).toHaveLength(0);
  });

  it('reads the list once for reports arriving together at a cold start', async () => {
    let open!: () => void;
    list.gate = new Promise((resolve) => (open = resolve));
    const verdicts = Promise.all(Array.from({ length: 10 }, () => verifier.verify('k1', signature, body)));
    open();
    expect(await verdicts).toEqual(Array(10).fill('valid'));
    expect(list.reads).toHaveLength(1);
  });

  it('reads again for an unknown key id at most once a minute', async () => {
    expect(await verifier.verify('k1', signature, body)).toBe('valid');
    const rotated = keyPair();
    list.keys.push({ id: 'k2', pem: rotated.pem });
    list.version = 'v2';
    const signed2 = sign('sha256', body, rotated.privateKey).toString('base64');
    expect(await verifier.verify('k2', signed2, body)).toBe('invalid'); // within the minute of the first read
    expect(list.reads).toHaveLength(1);
    clock.advance(UNKNOWN_KEY_REFRESH_MS);
    expect(await verifier.verify('k2', signed2, body)).toBe('valid');
    for (let i = 0; i < 20; i++) expect(await verifier.verify(`made-up-${i}`, signed2, body)).toBe('invalid');
    expect(list.reads).toEqual([undefined, 'v1']);
  });

  it('refuses without reading the body what no body can make good: malformed headers, or a key id the fresh list lacks', async () => {
    expect(verifier.refusesUnread('../x', signature)).toBe(true);
    expect(verifier.refusesUnread('k1', 'not base64!')).toBe(true);
    expect(verifier.refusesUnread('k9', signature)).toBe(false); // nothing read yet: the list may hold it
    expect(await verifier.verify('k1', signature, body)).toBe('valid');
    expect(verifier.refusesUnread('k1', signature)).toBe(false);
    expect(verifier.refusesUnread('k9', signature)).toBe(true); // read less than a minute ago
    clock.advance(UNKNOWN_KEY_REFRESH_MS);
    expect(verifier.refusesUnread('k9', signature)).toBe(false); // may be new: the list is read again
    list.up = false;
    expect(await verifier.verify('k9', signature, body).catch((e: unknown) => e)).toBeInstanceOf(DependencyUnavailableError);
    expect(verifier.refusesUnread('k9', signature)).toBe(false); // the list could not be read: 503, not 401
  });

  it('reads an hour-old list again conditionally, and keeps known keys working while it cannot be read', async () => {
    expect(await verifier.verify('k1', signature, body)).toBe('valid');
    clock.advance(KEY_LIST_MAX_AGE_MS);
    expect(await verifier.verify('k1', signature, body)).toBe('valid'); // 304: the same keys
    expect(list.reads).toEqual([undefined, 'v1']);
    clock.advance(KEY_LIST_MAX_AGE_MS);
    list.up = false;
    expect(await verifier.verify('k1', signature, body)).toBe('valid');
    await expect(verifier.verify('k9', signature, body)).rejects.toBeInstanceOf(DependencyUnavailableError);
  });

  it('cannot judge a report while the list was never read, and judges it once the list comes back', async () => {
    list.up = false;
    await expect(verifier.verify('k1', signature, body)).rejects.toBeInstanceOf(DependencyUnavailableError);
    list.up = true;
    await expect(verifier.verify('k1', signature, body)).rejects.toBeInstanceOf(DependencyUnavailableError); // no read within the minute
    expect(list.reads).toHaveLength(1);
    clock.advance(UNKNOWN_KEY_REFRESH_MS);
    expect(await verifier.verify('k1', signature, body)).toBe('valid');
  });

  it('drops a key the list no longer publishes, and skips keys that are not ECDSA P-256', async () => {
    const p384 = keyPair('secp384r1');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    list.keys = [
      { id: 'p384', pem: p384.pem },
      { id: 'rsa', pem: rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
      { id: 'junk', pem: 'not a key' },
    ];
    expect(await verifier.verify('p384', sign('sha256', body, p384.privateKey).toString('base64'), body)).toBe('invalid');
    list.keys = [];
    list.version = 'v2';
    clock.advance(KEY_LIST_MAX_AGE_MS);
    expect(await verifier.verify('k1', signature, body)).toBe('invalid');
  });
});
