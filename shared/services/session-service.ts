import type { Page } from '../ports/audit-log';
import type { SessionRepository, StoredSession } from '../ports/session-repository';
import type { sessionsQuerySchema } from '../schemas/keys';
import type { z } from 'zod';

/** The read side of ingested sessions: the Decisions explorer's pages. */
export class SessionService {
  constructor(private readonly sessions: SessionRepository) {}

  /** A customer's sessions, newest first, narrowed to a key label and a window (any offset, read as UTC). */
  list(customerSlug: string, query: z.output<typeof sessionsQuerySchema>): Promise<Page<StoredSession>> {
    return this.sessions.list(customerSlug, {
      limit: query.limit,
      ...(query.cursor ? { cursor: query.cursor } : {}),
      ...(query.keyLabel ? { keyLabel: query.keyLabel } : {}),
      ...(query.from ? { from: new Date(query.from).toISOString() } : {}),
      ...(query.to ? { to: new Date(query.to).toISOString() } : {}),
    });
  }
}
