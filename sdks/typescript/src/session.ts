import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';

/** The attribute that names a session (OpenTelemetry semantic conventions). */
export const SESSION_ID_ATTRIBUTE = 'session.id';

const sessions = new AsyncLocalStorage<string>();

/**
 * Runs `fn` inside a session: every span started within it (across awaits) carries
 * `session.id`, so one user interaction becomes one session in the portal.
 */
export function withSession<T>(sessionId: string, fn: () => T): T {
  if (typeof sessionId !== 'string' || sessionId.length === 0 || sessionId.length > 256) {
    throw new TypeError('A session id is a string of 1 to 256 characters.');
  }
  return sessions.run(sessionId, fn);
}

/** The session the current code runs in, if any. */
export function currentSession(): string | undefined {
  return sessions.getStore();
}

/** Stamps `session.id` on spans started inside {@link withSession} (a span's own attribute wins). */
export class SessionSpanProcessor implements SpanProcessor {
  onStart(span: Span, _parentContext: Context): void {
    const sessionId = sessions.getStore();
    if (sessionId !== undefined && span.attributes[SESSION_ID_ATTRIBUTE] === undefined) span.setAttribute(SESSION_ID_ATTRIBUTE, sessionId);
  }
  onEnd(_span: ReadableSpan): void {}
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
