import { z } from 'zod';

/** A non-negative whole number given as text (a query or path parameter). */
export function byteOffset(name: string) {
  return z
    .string({ error: `${name} is required` })
    .regex(/^\d{1,16}$/, `${name} must be a non-negative whole number`)
    .transform(Number);
}

/** The paging query of a listing: `limit` (1 to `max`, default `fallback`) and the `nextToken` of the page before. */
export function pageQuery(max: number, fallback: number) {
  return z.strictObject({
    limit: z.coerce
      .number({ error: 'limit must be a number' })
      .int('limit must be a whole number')
      .min(1, 'limit must be at least 1')
      .max(max, `limit must be at most ${max}`)
      .default(fallback),
    nextToken: z.string().min(1, 'nextToken must not be empty').max(2048, 'nextToken is too long').optional(),
  });
}

/** Pages of GET /copy-jobs: a job names up to 1,000 target volumes, so 100 jobs keep an answer well under Lambda's 6 MB. */
export const COPY_JOB_PAGE = { default: 50, max: 100 } as const;
