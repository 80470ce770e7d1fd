import {
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  ListMapRunsCommand,
  StartExecutionCommand,
  type ExecutionListItem,
  type HistoryEvent,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import type { WorkflowEvent, WorkflowRunner, WorkflowTimeline } from '../copy-jobs/ports.js';
import { mergeTimeline } from '../copy-jobs/workflow-timeline.js';
import { mapLimit } from '../shared/concurrency.js';
import { translateAwsError } from './aws-errors.js';

function describe(event: HistoryEvent): WorkflowEvent {
  const details =
    event.stateEnteredEventDetails ??
    event.stateExitedEventDetails ??
    undefined;
  const failure =
    event.taskFailedEventDetails ??
    event.executionFailedEventDetails ??
    event.lambdaFunctionFailedEventDetails ??
    event.mapIterationFailedEventDetails ??
    undefined;
  return {
    timestamp: (event.timestamp ?? new Date()).toISOString(),
    type: event.type ?? 'Unknown',
    ...(details?.name ? { state: details.name } : {}),
    ...(event.mapIterationStartedEventDetails?.index !== undefined ? { index: event.mapIterationStartedEventDetails.index } : {}),
    ...(failure && 'error' in failure && failure.error ? { error: failure.error } : {}),
    ...(failure && 'cause' in failure && failure.cause ? { cause: failure.cause } : {}),
  };
}

/** How far `timeline()` follows a job's Distributed Map children. */
export interface TimelineBounds {
  /** The newest this many child executions have their events merged in (default 20). */
  readonly children: number;
  /** Child executions listed at most, over all map runs, to find the newest (default 1000). */
  readonly listed: number;
  /** Events read at most from one child's history (default 200; a batch has about ten). */
  readonly eventsPerChild: number;
}

const DEFAULT_BOUNDS: TimelineBounds = { children: 20, listed: 1000, eventsPerChild: 200 };

/** The copy-job state machine on AWS Step Functions. */
export class SfnWorkflowRunner implements WorkflowRunner {
  private readonly bounds: TimelineBounds;

  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
    bounds: Partial<TimelineBounds> = {},
  ) {
    this.bounds = { ...DEFAULT_BOUNDS, ...bounds };
  }

  async start(name: string, input: Record<string, unknown>): Promise<{ executionArn: string }> {
    try {
      const started = await this.sfn.send(
        new StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name, input: JSON.stringify(input) }),
      );
      return { executionArn: started.executionArn! };
    } catch (error) {
      // Execution names are unique per state machine: the job was already started.
      if (error instanceof Error && error.name === 'ExecutionAlreadyExists') {
        return { executionArn: `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}` };
      }
      throw translateAwsError('Step Functions', error);
    }
  }

  async history(executionArn: string): Promise<WorkflowEvent[]> {
    try {
      return await this.events(executionArn, Infinity);
    } catch (error) {
      throw translateAwsError('Step Functions', error);
    }
  }

  /**
   * The job's events with its batches' merged in. On AWS a Distributed Map runs each batch as a
   * child execution with a history of its own (the job's history shows only the Map Run), so
   * each round's Map Run is listed (ListMapRuns), then its child executions (ListExecutions
   * with the Map Run's ARN, newest first), and the newest few children's histories are merged
   * in by time; `truncated` says how many were left out.
   */
  async timeline(executionArn: string): Promise<WorkflowTimeline> {
    try {
      const [parent, children] = await Promise.all([this.events(executionArn, Infinity), this.children(executionArn)]);
      const newest = children.listed
        .sort((a, b) => (b.startDate?.getTime() ?? 0) - (a.startDate?.getTime() ?? 0))
        .slice(0, this.bounds.children)
        .reverse();
      const histories = await mapLimit(newest, 4, async (child) => ({
        name: child.name ?? child.executionArn ?? 'child',
        events: await this.events(child.executionArn!, this.bounds.eventsPerChild),
      }));
      return mergeTimeline(parent, histories, children.total, children.totalKnown);
    } catch (error) {
      throw translateAwsError('Step Functions', error);
    }
  }

  /** Up to `limit` events of one execution, oldest first. */
  private async events(executionArn: string, limit: number): Promise<WorkflowEvent[]> {
    const events: WorkflowEvent[] = [];
    let nextToken: string | undefined;
    do {
      const maxResults = Math.min(1000, limit - events.length);
      const page = await this.sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults }));
      events.push(...(page.events ?? []).map(describe));
      nextToken = page.nextToken;
    } while (nextToken && events.length < limit);
    return events;
  }

  /** The child executions of every Map Run the execution started, up to the listing bound; total counts them all when known. */
  private async children(executionArn: string): Promise<{ listed: ExecutionListItem[]; total: number; totalKnown: boolean }> {
    const mapRunArns: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.sfn.send(new ListMapRunsCommand({ executionArn, nextToken, maxResults: 100 }));
      mapRunArns.push(...(page.mapRuns ?? []).flatMap((run) => (run.mapRunArn ? [run.mapRunArn] : [])));
      nextToken = page.nextToken;
    } while (nextToken);
    const listed: ExecutionListItem[] = [];
    let unlisted = false;
    for (const mapRunArn of mapRunArns) {
      let token: string | undefined;
      do {
        const room = this.bounds.listed - listed.length;
        if (room <= 0) {
          unlisted = true;
          break;
        }
        const page = await this.sfn.send(new ListExecutionsCommand({ mapRunArn, nextToken: token, maxResults: Math.min(1000, room) }));
        listed.push(...(page.executions ?? []).filter((execution) => execution.executionArn));
        token = page.nextToken;
      } while (token);
    }
    return { listed, total: listed.length, totalKnown: !unlisted };
  }
}
