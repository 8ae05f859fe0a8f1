import type { GraceEntry, GraceSchedule } from '../../ports/grace-schedule';
import { MemoryDueIndex } from './memory-due-index';

/** In-memory GraceSchedule for unit tests. */
export class MemoryGraceSchedule extends MemoryDueIndex<GraceEntry> implements GraceSchedule {
  constructor() {
    super(
      (e) => e.endsAt,
      (e) => `${e.customerSlug}_${e.version}`,
    );
  }
}
