/**
 * `GET /copy-jobs`: the copy jobs a page at a time, each as `GET /copy-jobs/{id}` shows it
 * (state, progress, throughput, ETA) but without the drawn plan, which only one job's page needs.
 * It lives apart from lib/copy-jobs because it only reads jobs: the workflow never lists them.
 */
import { copyJobStatus, type CopyJobStatus } from '../copy-jobs/copy-job.js';
import type { CopyJobLister } from './ports.js';

/** A job in a listing: its status without the plan's text drawing. */
export type CopyJobSummary = Omit<CopyJobStatus, 'plan'>;

export interface CopyJobSummaryPage {
  readonly copyJobs: CopyJobSummary[];
  readonly nextCursor?: string;
}

export class CopyJobListing {
  constructor(
    private readonly jobs: CopyJobLister,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async list(limit: number, cursor?: string): Promise<CopyJobSummaryPage> {
    const page = await this.jobs.list(limit, cursor);
    const now = this.now();
    const copyJobs = page.jobs.map((job) => {
      const { plan: _plan, ...summary } = copyJobStatus(job, now);
      void _plan;
      return summary;
    });
    return page.nextCursor ? { copyJobs, nextCursor: page.nextCursor } : { copyJobs };
  }
}
