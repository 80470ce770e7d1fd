import { StateMachine } from 'aws-local-stepfunctions';
import { synthesizeCopyJobDefinition } from '../../infra/copy-job-definition.js';
import type { WorkflowEvent, WorkflowRunner } from '../copy-jobs/ports.js';
import { COPY_JOB_TASKS, type CopyJobTask } from '../copy-jobs/states.js';

export type TaskHandler = (input: unknown) => Promise<unknown>;

const EXECUTION_ARN_PREFIX = 'arn:aws:states:us-east-1:000000000000:execution:sleds-copy-job:';

type EventLog = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

interface Execution {
  readonly executionArn: string;
  readonly events: WorkflowEvent[];
  readonly finished: Promise<void>;
}

function toWorkflowEvent(event: EventLog): WorkflowEvent {
  const state = 'state' in event ? event.state.name : 'parentState' in event ? event.parentState.name : undefined;
  return {
    timestamp: new Date(event.timestamp).toISOString(),
    type: event.type,
    ...(state ? { state } : {}),
    ...('index' in event && event.index !== undefined ? { index: event.index } : {}),
    ...('Error' in event ? { error: String(event.Error) } : {}),
    ...('Cause' in event && event.Cause !== undefined ? { cause: typeof event.Cause === 'string' ? event.Cause : JSON.stringify(event.Cause) } : {}),
  };
}

/**
 * Runs the copy-job state machine in-process with aws-local-stepfunctions, from the very
 * definition `cdk synth` emits. Each Task state is served by its Lambda handler, called
 * in-process. Events are copied as they arrive (the runner would otherwise buffer them all),
 * and serve `GET /copy-jobs/{id}/events`, the local stand-in for the console.
 */
export class LocalWorkflowRunner implements WorkflowRunner {
  private machine: StateMachine | undefined;
  private readonly executions = new Map<string, Execution>();
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly handlers: Readonly<Record<CopyJobTask, () => Promise<TaskHandler>>>,
    private readonly options: { retryIntervalMs?: number } = {},
  ) {}

  private stateMachine(): StateMachine {
    this.machine ??= new StateMachine(synthesizeCopyJobDefinition() as unknown as ConstructorParameters<typeof StateMachine>[0], {
      validationOptions: { checkPaths: true, checkArn: true },
    });
    return this.machine;
  }

  /** Builds the state machine now (a `cdk synth` in-process takes seconds) instead of on the first job. */
  warm(): void {
    setImmediate(() => this.warmNow());
  }

  /** Builds the state machine now, synchronously (seconds of CPU on this thread). */
  warmNow(): void {
    try {
      this.stateMachine();
    } catch (error) {
      console.error('sleds: the copy-job state machine could not be built:', error);
    }
  }

  async start(name: string, input: Record<string, unknown>): Promise<{ executionArn: string }> {
    const existing = this.executions.get(name);
    if (existing) return { executionArn: existing.executionArn };
    const tasks = Object.keys(COPY_JOB_TASKS) as CopyJobTask[];
    const handlers = Object.fromEntries(
      await Promise.all(tasks.map(async (task) => [COPY_JOB_TASKS[task].state, this.tracked(await this.handlers[task]())] as const)),
    );
    const retryIntervalOverrides =
      this.options.retryIntervalMs === undefined
        ? undefined
        : Object.fromEntries(tasks.map((task) => [COPY_JOB_TASKS[task].state, this.options.retryIntervalMs as number]));
    const run = this.stateMachine().run(input as Parameters<StateMachine['run']>[0], {
      overrides: {
        taskResourceLocalHandlers: handlers as Record<string, (input: unknown) => Promise<never>>,
        ...(retryIntervalOverrides ? { retryIntervalOverrides } : {}),
      },
    });
    const events: WorkflowEvent[] = [];
    const finished = (async () => {
      for await (const event of run.eventLogs) events.push(toWorkflowEvent(event));
      await run.result.catch(() => undefined);
    })();
    const execution = { executionArn: `${EXECUTION_ARN_PREFIX}${name}`, events, finished };
    this.executions.set(name, execution);
    return { executionArn: execution.executionArn };
  }

  async history(executionArn: string): Promise<WorkflowEvent[]> {
    const name = executionArn.slice(EXECUTION_ARN_PREFIX.length);
    return [...(this.executions.get(name)?.events ?? [])];
  }

  /**
   * A handler whose runs are remembered until they settle: a task the runner timed out goes
   * on running (as a Lambda would until its own timeout), and `drain` must wait for it too.
   */
  private tracked(handler: TaskHandler): TaskHandler {
    return (input) => {
      const running = handler(input);
      const settled = running.then(
        () => undefined,
        () => undefined,
      );
      this.running.add(settled);
      void settled.then(() => this.running.delete(settled));
      return running;
    };
  }

  /** Waits for every execution started so far to end, and for every task run still going. */
  async drain(): Promise<void> {
    await Promise.all([...this.executions.values()].map((execution) => execution.finished));
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}
