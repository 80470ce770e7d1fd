import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ABORT_INCOMPLETE_UPLOAD_DAYS } from '../../lib/resources.js';

/** Properties of {@link SledBuckets}. */
export interface SledBucketsProps {
  /** How many sleds (buckets) to create; a positive integer. */
  readonly count: number;
}

/** The sleds: one private, TLS-only, retained S3 bucket per sled, in sled order. */
export class SledBuckets extends Construct {
  /** The buckets, index i holding sled i. */
  readonly buckets: readonly s3.Bucket[];

  constructor(scope: Construct, id: string, props: SledBucketsProps) {
    super(scope, id);
    if (!Number.isInteger(props.count) || props.count < 1) {
      throw new Error(`sled count must be a positive integer, got ${props.count}`);
    }
    const buckets: s3.Bucket[] = [];
    for (let index = 0; index < props.count; index++) {
      // The id numbering matches localSledBucketName, so "sled 3" means the same bucket
      // locally and on AWS; CloudFormation picks the physical name.
      buckets.push(
        new s3.Bucket(this, `Sled${String(index).padStart(2, '0')}`, {
          blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
          encryption: s3.BucketEncryption.S3_MANAGED,
          enforceSSL: true,
          // Sleds hold the only flushed copy of volume data: deleting the stack must not delete it.
          removalPolicy: RemovalPolicy.RETAIN,
          lifecycleRules: [
            {
              id: 'AbortIncompleteMultipartUploads',
              // A crashed flush or copy can leave parts behind that are billed but never visible.
              abortIncompleteMultipartUploadAfter: Duration.days(ABORT_INCOMPLETE_UPLOAD_DAYS),
            },
          ],
        }),
      );
    }
    for (const bucket of buckets) {
      Validations.of(bucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason:
          'Sleds take chunk and note I/O at block-device request rates: server access logs would write a record per chunk request ' +
          'into a log bucket that grows with the I/O itself. Audit object access with CloudTrail S3 data events on the buckets when needed.',
      });
    }
    this.buckets = Object.freeze(buckets);
  }
}
