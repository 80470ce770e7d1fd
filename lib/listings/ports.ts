import type { CopyJob } from '../copy-jobs/copy-job.js';

/** One page of copy jobs. */
export interface CopyJobPage {
  readonly jobs: readonly CopyJob[];
  /** Opaque; absent on the last page. */
  readonly nextCursor?: string;
}

/** Lists copy jobs (a table scan in DynamoDB): for people and consoles, not for hot paths. */
export interface CopyJobLister {
  /** Jobs a page at a time, in no particular order. Throws ValidationError for a cursor it did not issue. */
  list(limit: number, cursor?: string): Promise<CopyJobPage>;
}
