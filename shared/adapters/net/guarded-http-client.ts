import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { OutboundGuard, OutboundTarget } from '../../net/outbound-guard';
import type { ResolvedAddress } from '../../ports/host-resolver';
import type { OutboundHttp, OutboundRequest, OutboundResult } from '../../ports/outbound-http';

/**
 * OutboundHttp over Node's http/https: the guard admits the URL (and resolves its host, once),
 * then the connection is made with a `lookup` that answers the checked addresses only, so the
 * socket goes where the guard looked and nowhere else, while the Host header, the TLS server name
 * (SNI) and the certificate check keep the host name. A fresh connection per request (no agent,
 * no pool: a pooled socket would skip the check), no redirect followed (Node's client follows
 * none), no proxy, one deadline from resolution to the last byte read, and the body read up to
 * its bound and no further (the connection is closed then).
 */
export class GuardedHttpClient implements OutboundHttp {
  private readonly userAgent: string;

  constructor(
    private readonly guard: OutboundGuard,
    private readonly options: {
      userAgent?: string;
      /** The certificate authorities trusted instead of the platform's: tests' own, never set in production. */
      ca?: string | Buffer;
    } = {},
  ) {
    this.userAgent = options.userAgent ?? 'veriproof-keys';
  }

  async send(request: OutboundRequest): Promise<OutboundResult> {
    const signal = AbortSignal.timeout(request.timeoutMs);
    const admission = await this.guard.admit(request.url, signal);
    if (!admission.ok) return admission;
    return this.exchange(admission.target, request, signal);
  }

  private exchange(target: OutboundTarget, request: OutboundRequest, signal: AbortSignal): Promise<OutboundResult> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (result: OutboundResult) => {
        if (settled) return;
        settled = true;
        resolve(result);
      };
      const failed = (error: unknown) =>
        settle(
          signal.aborted
            ? { ok: false, failure: 'timeout', detail: `no complete answer from ${target.hostname} in ${request.timeoutMs} ms` }
            : { ok: false, failure: 'unreachable', detail: `${target.hostname}: ${reasonOf(error)}` },
        );
      const secure = target.url.protocol === 'https:';
      const options: RequestOptions = {
        method: request.method,
        host: target.hostname,
        port: target.port,
        path: `${target.url.pathname}${target.url.search}`,
        headers: { 'user-agent': this.userAgent, ...request.headers, host: target.url.host },
        lookup: pinnedLookup(target.addresses),
        agent: false,
        signal,
        ...(secure && isIP(target.hostname) === 0 ? { servername: target.hostname } : {}),
        ...(secure && this.options.ca !== undefined ? { ca: this.options.ca } : {}),
      };
      const answered = (response: IncomingMessage) => {
        const address = response.socket.remoteAddress ?? '';
        const chunks: Buffer[] = [];
        let size = 0;
        let truncated = false;
        const finish = () =>
          settle({
            ok: true,
            response: {
              status: response.statusCode ?? 0,
              headers: flatten(response.headers),
              body: Buffer.concat(chunks, size),
              truncated,
              address,
            },
          });
        response.on('data', (chunk: Buffer) => {
          if (settled) return;
          const room = request.maxResponseBytes - size;
          if (chunk.length > room) {
            chunks.push(chunk.subarray(0, room));
            size += room;
            truncated = true;
            finish();
            // The rest is not read: the connection goes, with whatever the endpoint still meant to send.
            outgoing.destroy();
            return;
          }
          chunks.push(chunk);
          size += chunk.length;
        });
        response.on('end', finish);
        response.on('error', failed);
        response.on('close', () => {
          if (!response.complete) failed(new Error('the answer was cut short'));
        });
      };
      let outgoing: ReturnType<typeof httpRequest>;
      try {
        outgoing = secure ? httpsRequest(options, answered) : httpRequest(options, answered);
      } catch (error) {
        // Headers Node refuses to send (a line break in a value): nothing left this process.
        settle({ ok: false, failure: 'unreachable', detail: `the request could not be made: ${reasonOf(error)}` });
        return;
      }
      outgoing.on('error', failed);
      outgoing.end(request.body);
    });
  }
}

/** A `lookup` that answers the checked addresses (of the family asked for), whatever the name: the connection's only source of addresses. */
function pinnedLookup(addresses: readonly ResolvedAddress[]): LookupFunction {
  const known = addresses.map(({ address }) => ({ address, family: isIP(address) })).filter(({ family }) => family !== 0);
  return (hostname, options, callback) => {
    const asked = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0);
    const fitting = known.filter(({ family }) => asked === 0 || family === asked);
    if (fitting.length === 0) {
      callback(Object.assign(new Error(`no checked address of ${hostname} for this connection`), { code: 'ENOTFOUND' }), '', 0);
      return;
    }
    if (options.all) callback(null, fitting);
    else callback(null, fitting[0]!.address, fitting[0]!.family);
  };
}

function flatten(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  return flat;
}

/** An error as a short phrase (its code when it has one: ECONNREFUSED, CERT_HAS_EXPIRED), never a stack. */
function reasonOf(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}
