import type { ExpiryEntry, ExpirySchedule } from '../../ports/expiry-schedule';
import { MemoryDueIndex } from './memory-due-index';

/** In-memory ExpirySchedule for unit tests. */
export class MemoryExpirySchedule extends MemoryDueIndex<ExpiryEntry> implements ExpirySchedule {
  constructor() {
    super(
      (e) => e.expiresAt,
      (e) => `${e.customerSlug}_${e.keyId}`,
    );
  }
}
