import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CopyJob, CopyJobProgress } from '../copy-jobs/copy-job.js';
import type { CopyJobRepository } from '../copy-jobs/ports.js';
import { callAws, isConditionalCheckFailed, translateAwsError } from './aws-errors.js';

const JOB = 'job';
const TOKEN = 'token';

const dynamo = <T>(call: () => Promise<T>): Promise<T> => callAws('DynamoDB', call);

/** Copy jobs in the copy-jobs table: one header item per job, one item per clientToken. */
export class DynamoDbCopyJobRepository implements CopyJobRepository {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(job: CopyJob): Promise<void> {
    await dynamo(() =>
      this.documents.send(new PutCommand({ TableName: this.tableName, Item: { ...job, sk: JOB }, ConditionExpression: 'attribute_not_exists(jobId)' })),
    );
  }

  async get(jobId: string): Promise<CopyJob | undefined> {
    const { Item } = await dynamo(() =>
      this.documents.send(new GetCommand({ TableName: this.tableName, Key: { jobId, sk: JOB }, ConsistentRead: true })),
    );
    if (!Item) return undefined;
    const { sk: _sk, ...job } = Item;
    void _sk;
    return job as CopyJob;
  }

  async claimToken(snapshotId: string, clientToken: string, jobId: string): Promise<string> {
    const key = { jobId: `token#${snapshotId}#${clientToken}`, sk: TOKEN };
    try {
      await this.documents.send(
        new PutCommand({ TableName: this.tableName, Item: { ...key, holder: jobId }, ConditionExpression: 'attribute_not_exists(jobId)' }),
      );
      return jobId;
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw translateAwsError('DynamoDB', error);
    }
    const { Item } = await dynamo(() => this.documents.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true })));
    return Item?.holder as string;
  }

  async addProgress(jobId: string, delta: Partial<CopyJobProgress>): Promise<void> {
    const entries = Object.entries(delta).filter(([, value]) => value !== undefined && value !== 0);
    if (entries.length === 0) return;
    await dynamo(() =>
      this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { jobId, sk: JOB },
          UpdateExpression: `SET ${entries.map((_, i) => `progress.#f${i} = progress.#f${i} + :v${i}`).join(', ')}`,
          ExpressionAttributeNames: Object.fromEntries(entries.map(([name], i) => [`#f${i}`, name])),
          ExpressionAttributeValues: Object.fromEntries(entries.map(([, value], i) => [`:v${i}`, value])),
        }),
      ),
    );
  }

  async addRoundTask(jobId: string, round: number): Promise<void> {
    await dynamo(() =>
      this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { jobId, sk: JOB },
          UpdateExpression: 'SET roundTasksDone.#r = if_not_exists(roundTasksDone.#r, :zero) + :one',
          ExpressionAttributeNames: { '#r': `r${round}` },
          ExpressionAttributeValues: { ':zero': 0, ':one': 1 },
        }),
      ),
    );
  }

  async setProgress(jobId: string, progress: CopyJobProgress): Promise<void> {
    await dynamo(() =>
      this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { jobId, sk: JOB },
          UpdateExpression: 'SET progress = :progress',
          ExpressionAttributeValues: { ':progress': progress },
        }),
      ),
    );
  }

  async setExecution(jobId: string, executionArn: string): Promise<void> {
    await dynamo(() =>
      this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { jobId, sk: JOB },
          UpdateExpression: 'SET executionArn = :arn',
          ExpressionAttributeValues: { ':arn': executionArn },
        }),
      ),
    );
  }

  async update(jobId: string, fields: Parameters<CopyJobRepository['update']>[1]): Promise<void> {
    const entries = Object.entries(fields).filter(([, value]) => value !== undefined);
    if (entries.length === 0) return;
    const names = Object.fromEntries(entries.map(([name], i) => [`#f${i}`, name]));
    const values: Record<string, unknown> = Object.fromEntries(entries.map(([, value], i) => [`:v${i}`, value]));
    let condition: string | undefined;
    if (fields.state !== undefined) {
      // A job ends once: a late retry of Clean up cannot turn a failed job into a success.
      condition = '#state = :running';
      names['#state'] = 'state';
      values[':running'] = 'running';
    }
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { jobId, sk: JOB },
          UpdateExpression: `SET ${entries.map((_, i) => `#f${i} = :v${i}`).join(', ')}${fields.roundTaskCounts ? ', roundTasksDone = if_not_exists(roundTasksDone, :empty)' : ''}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: fields.roundTaskCounts ? { ...values, ':empty': {} } : values,
          ...(condition ? { ConditionExpression: condition } : {}),
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw translateAwsError('DynamoDB', error);
    }
  }
}
