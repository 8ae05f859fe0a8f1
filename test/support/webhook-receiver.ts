import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A request the receiver got: its headers, and its body's bytes as they arrived. */
export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
}

/** How the receiver answers a request: a status, or `hang` (never answer; the connection stays open). */
export type ReceiverAnswer = number | 'hang';

/**
 * A loopback webhook receiver for the tests: it records every request and every connection,
 * answers from a script (200 once the script runs out), and lets a test wait for the n-th
 * request (an event, never a timed wait).
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  /** Connections accepted (a request refused before it was sent makes none). */
  connections = 0;
  readonly script: ReceiverAnswer[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly waiters: Array<{ count: number; resolve: () => void }> = [];
  port = 0;

  /** Listens on 127.0.0.1 (on `port`, or a free one). */
  async start(port = 0): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        for (const waiter of this.waiters.filter((w) => this.received.length >= w.count)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
        const answer = this.script.shift() ?? 200;
        if (answer === 'hang') return;
        res.writeHead(answer, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    server.on('connection', (socket) => {
      this.connections += 1;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  url(path = '/hooks/veriproof'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Resolves once `count` requests have arrived in all. */
  requests(count: number): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  /** Requests whose `webhook-id` is `id`. */
  withId(id: string): ReceivedWebhook[] {
    return this.received.filter((r) => r.headers['webhook-id'] === id);
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }
}
