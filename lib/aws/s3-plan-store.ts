import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { PlanStore } from '../copy-jobs/ports.js';
import type { CopyPlan } from '../copy-jobs/copy-plan.js';
import { translateAwsError } from './aws-errors.js';

/** Plans as JSON objects on the first sled: too large for a state's payload, read by every copy task. */
export class S3PlanStore implements PlanStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async put(jobId: string, plan: CopyPlan): Promise<void> {
    try {
      await this.s3.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: `copy-plans/${jobId}.json`, Body: JSON.stringify(plan), ContentType: 'application/json' }),
      );
    } catch (error) {
      throw translateAwsError('S3', error);
    }
  }

  async get(jobId: string): Promise<CopyPlan> {
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: `copy-plans/${jobId}.json` }));
      return JSON.parse(await object.Body!.transformToString()) as CopyPlan;
    } catch (error) {
      throw translateAwsError('S3', error);
    }
  }
}
