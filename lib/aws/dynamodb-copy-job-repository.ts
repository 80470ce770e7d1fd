import { GetCommand, PutCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CopyJob, CopyJobProgress, CopyJobState } from '../copy-jobs/copy-job.js';
import type { CopyJobRepository, ProgressDelta } from '../copy-jobs/ports.js';
import type { CopyJobLister, CopyJobPage } from '../listings/ports.js';
import { callAws, isConditionalCheckFailed, translateAwsError } from './aws-errors.js';
import { scanHeaders } from './header-scan.js';

const JOB = 'job';
const TOKEN = 'token';

function toCopyJob(item: Record<string, unknown>): CopyJob {
  const { sk: _sk, ...job } = item;
  void _sk;
  return job as unknown as CopyJob;
}

const dynamo = <T>(call: () => Promise<T>): Promise<T> => callAws('DynamoDB', call);

/** Copy jobs in the copy-jobs table: one header item per job, one item per clientToken. */
export class DynamoDbCopyJobRepository implements CopyJobRepository, CopyJobLister {
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
    return Item ? toCopyJob(Item) : undefined;
  }

  async list(limit: number, cursor?: string): Promise<CopyJobPage> {
    // Job headers only: the clientToken items share the table.
    const page = await scanHeaders({ documents: this.documents, tableName: this.tableName, idName: 'jobId', header: JOB }, limit, cursor);
    const jobs = page.items.map(toCopyJob);
    return page.nextCursor ? { jobs, nextCursor: page.nextCursor } : { jobs };
  }

  async running(): Promise<string[]> {
    const jobIds: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    // A filtered Scan page may come back short or empty: read until the table ends.
    do {
      const page = await dynamo(() =>
        this.documents.send(
          new ScanCommand({
            TableName: this.tableName,
            FilterExpression: 'sk = :job AND #state = :running',
            ProjectionExpression: 'jobId',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: { ':job': JOB, ':running': 'running' },
            ExclusiveStartKey: startKey,
            ConsistentRead: true,
          }),
        ),
      );
      for (const item of page.Items ?? []) jobIds.push(String(item.jobId));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return jobIds;
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

  async reportProgress(jobId: string, delta: ProgressDelta): Promise<boolean> {
    const sets: string[] = [];
    const names: Record<string, string> = { '#state': 'state' };
    const values: Record<string, unknown> = { ':running': 'running' };
    const counters = (['chunksCopied', 'bytesCopied', 'intermediariesCreated'] as const).filter((name) => delta[name] !== 0);
    for (const [i, name] of counters.entries()) {
      sets.push(`progress.#p${i} = progress.#p${i} + :p${i}`);
      names[`#p${i}`] = name;
      values[`:p${i}`] = delta[name];
    }
    const rounds = Object.entries(delta.roundTasks).filter(([, n]) => n > 0);
    for (const [i, [round, n]] of rounds.entries()) {
      sets.push(`roundTasksDone.#r${i} = if_not_exists(roundTasksDone.#r${i}, :zero) + :r${i}`);
      names[`#r${i}`] = `r${round}`;
      values[`:r${i}`] = n;
    }
    const tasks = Object.entries(delta.taskChunks ?? {}).filter(([, n]) => n > 0);
    for (const [i, [task, n]] of tasks.entries()) {
      sets.push(`taskChunksDone.#t${i} = if_not_exists(taskChunksDone.#t${i}, :zero) + :t${i}`);
      names[`#t${i}`] = task;
      values[`:t${i}`] = n;
    }
    if (rounds.length > 0 || tasks.length > 0) values[':zero'] = 0;
    // Nothing to add still asks whether the job runs: the condition is the answer.
    if (sets.length === 0) sets.push('#state = #state');
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { jobId, sk: JOB },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: '#state = :running',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw translateAwsError('DynamoDB', error);
    }
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

  async restart(jobId: string, from: CopyJobState, progress: CopyJobProgress): Promise<number | undefined> {
    try {
      const { Attributes } = await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { jobId, sk: JOB },
          UpdateExpression:
            'SET #state = :running, progress = :progress, attempts = if_not_exists(attempts, :zero) + :one REMOVE #error, finishedAt, roundTasksDone, taskChunksDone',
          ConditionExpression: '#state = :from',
          ExpressionAttributeNames: { '#state': 'state', '#error': 'error' },
          ExpressionAttributeValues: { ':running': 'running', ':from': from, ':progress': progress, ':zero': 0, ':one': 1 },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Number(Attributes?.attempts ?? 1);
    } catch (error) {
      if (isConditionalCheckFailed(error)) return undefined;
      throw translateAwsError('DynamoDB', error);
    }
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
