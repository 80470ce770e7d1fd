import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { StateMachine } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import { CopyJobStateMachine } from '../../infra/constructs/copy-job-state-machine.js';
import { localFunctionArn, resolveJoin, synthesizeCopyJobDefinition } from '../../infra/copy-job-definition.js';
import { TASK_SIZING } from '../../infra/handlers.js';
import { COPY_ERRORS, COPY_BATCH_CONCURRENCY, COPY_JOB_STATES, COPY_JOB_TASKS, type CopyJobTask } from '../../lib/copy-jobs/states.js';
import { LocalWorkflowRunner, type TaskHandler } from '../../lib/local/local-workflow-runner.js';
import { synthSleds, type CfnResource } from './support.js';

type Definition = Record<string, unknown>;
type MachineDefinition = ConstructorParameters<typeof StateMachine>[0];

const TASKS = Object.keys(COPY_JOB_TASKS) as CopyJobTask[];

/** Replaces every `{"Fn::GetAtt": [id, "Arn"]}` of a task function with that task's local ARN. */
function substituteTaskArns(value: unknown, arnsById: ReadonlyMap<string, string>): unknown {
  if (Array.isArray(value)) return value.map((item) => substituteTaskArns(item, arnsById));
  if (value && typeof value === 'object') {
    const getAtt = (value as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
    if (getAtt && getAtt[1] === 'Arn' && arnsById.has(getAtt[0])) return arnsById.get(getAtt[0]);
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substituteTaskArns(item, arnsById)]));
  }
  return value;
}

/** The deployed definition: what `cdk synth` emits, with the task functions' ARNs filled in. */
function deployedDefinition(): Definition {
  const { stateless, statelessTemplate } = synthSleds();
  const resources = statelessTemplate.toJSON().Resources as Record<string, CfnResource>;
  const machines = Object.values(resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
  expect(machines).toHaveLength(1);
  const arnsById = new Map(
    TASKS.map((task) => {
      const fn = stateless.functions[COPY_JOB_TASKS[task].handler]!.function;
      return [stateless.getLogicalId(fn.node.defaultChild as never), localFunctionArn(task)];
    }),
  );
  const substituted = substituteTaskArns(machines[0]!.Properties.DefinitionString, arnsById);
  const text = resolveJoin(substituted as never);
  // Anything left unresolved would be a token the local definition cannot have.
  expect(text).not.toMatch(/Fn::|"Ref"/);
  return JSON.parse(text) as Definition;
}

/** The same machine with `batchMap: 'inline'`, built the way synthesizeCopyJobDefinition builds it. */
function inlineDefinition(): Definition {
  const app = new App();
  const stack = new Stack(app, 'Inline', { env: { account: '000000000000', region: 'us-east-1' } });
  const functions = Object.fromEntries(
    TASKS.map((task) => [task, lambda.Function.fromFunctionArn(stack, task, localFunctionArn(task))]),
  ) as Record<CopyJobTask, lambda.IFunction>;
  new CopyJobStateMachine(stack, 'CopyJob', { functions, observability: false, batchMap: 'inline' });
  const resources = app.synth().getStackByName('Inline').template.Resources as Record<string, CfnResource>;
  const machine = Object.values(resources).find((r) => r.Type === 'AWS::StepFunctions::StateMachine')!;
  return JSON.parse(resolveJoin(machine.Properties.DefinitionString)) as Definition;
}

const deployed = deployedDefinition();
const local = synthesizeCopyJobDefinition();

/** Every state, at any depth, by name. */
function allStates(definition: Definition): Map<string, Record<string, any>> {
  const found = new Map<string, Record<string, any>>();
  const walk = (states: Record<string, Record<string, any>>) => {
    for (const [name, state] of Object.entries(states)) {
      found.set(name, state);
      for (const branch of state.Branches ?? []) walk(branch.States);
      if (state.ItemProcessor) walk(state.ItemProcessor.States);
    }
  };
  walk(definition.States as Record<string, Record<string, any>>);
  return found;
}

describe('one copy-job definition', () => {
  it('the local runner\'s definition equals the one `cdk synth` emits, once the function ARNs are substituted', () => {
    expect(local).toEqual(deployed);
  });

  it('is not vacuous: it has every state of COPY_JOB_STATES, and each task calls its own function', () => {
    const states = allStates(deployed);
    expect([...states.keys()].sort()).toEqual(Object.values(COPY_JOB_STATES).sort());
    for (const task of TASKS) expect(states.get(COPY_JOB_TASKS[task].state)!.Resource).toBe(localFunctionArn(task));
  });

  it('gives each task its function\'s own timeout, not the local runner\'s 60 s default', () => {
    const states = allStates(deployed);
    for (const task of TASKS) expect(states.get(COPY_JOB_TASKS[task].state)!.TimeoutSeconds).toBe(TASK_SIZING[task].timeoutSeconds);
    expect(TASK_SIZING.copyBatch.timeoutSeconds).toBeGreaterThan(60);
  });

  it('runs the batches of a round as a Distributed Map of Standard child executions, the rounds one at a time', () => {
    const states = allStates(deployed);
    const batches = states.get(COPY_JOB_STATES.batches)!;
    expect(batches.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    expect(batches.MaxConcurrency).toBe(COPY_BATCH_CONCURRENCY);
    // Nothing the local runner would silently skip: items come from the state input.
    for (const field of ['ItemReader', 'ItemBatcher', 'ResultWriter', 'ToleratedFailurePercentage', 'ToleratedFailureCount']) {
      expect(batches, field).not.toHaveProperty(field);
    }
    const rounds = states.get(COPY_JOB_STATES.rounds)!;
    expect(rounds.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'INLINE' });
    expect(rounds.MaxConcurrency).toBe(1);
  });

  it('differs from the inline variant only in the batches Map\'s processor config', () => {
    const inline = inlineDefinition();
    expect(inline).not.toEqual(deployed);
    allStates(inline).get(COPY_JOB_STATES.batches)!.ItemProcessor.ProcessorConfig = { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' };
    expect(inline).toEqual(deployed);
  });
});

interface Call {
  readonly task: CopyJobTask;
  readonly input: any;
}

/** Stub task handlers: a plan of `rounds`, copy batches that may fail, the others recording. */
function stubs(rounds: ReadonlyArray<readonly number[]>, copy: (input: any) => Promise<unknown> = async () => ({ tasks: 1, chunks: 1 })) {
  const calls: Call[] = [];
  let running = 0;
  let peak = 0;
  const record =
    (task: CopyJobTask, body: (input: any) => Promise<unknown>): TaskHandler =>
    async (input) => {
      calls.push({ task, input });
      return body(input);
    };
  const handlers: Record<CopyJobTask, TaskHandler> = {
    plan: record('plan', async () => ({ rounds: rounds.map((batches, i) => ({ round: i + 1, batches })) })),
    copyBatch: record('copyBatch', async (input) => {
      running++;
      peak = Math.max(peak, running);
      try {
        await new Promise((resolve) => setTimeout(resolve, 2));
        return await copy(input);
      } finally {
        running--;
      }
    }),
    finalize: record('finalize', async () => ({ verifiedChunks: 0 })),
    cleanUp: record('cleanUp', async () => ({ objectsRemoved: 0 })),
    markFailed: record('markFailed', async (input) => ({ jobId: input.jobId, state: 'failed' })),
  };
  return { calls, handlers, peak: () => peak };
}

function run(definition: Definition, handlers: Record<CopyJobTask, TaskHandler>) {
  const machine = new StateMachine(definition as unknown as MachineDefinition, { validationOptions: { checkPaths: true, checkArn: true } });
  const byState = Object.fromEntries(TASKS.map((task) => [COPY_JOB_TASKS[task].state, handlers[task]]));
  const retryIntervalOverrides = Object.fromEntries(TASKS.map((task) => [COPY_JOB_TASKS[task].state, 0]));
  return machine.run({ jobId: 'cj-test' } as never, {
    overrides: { taskResourceLocalHandlers: byState as never, retryIntervalOverrides },
  }).result;
}

describe('the local runner runs the deployed definition', () => {
  it('plans, copies every batch of every round, round after round, within MaxConcurrency, then finalizes and cleans up', async () => {
    const rounds = [[0, 1, 2], Array.from({ length: 40 }, (_, i) => i), [0]];
    const { calls, handlers, peak } = stubs(rounds);
    await expect(run(deployed, handlers)).resolves.toEqual({ jobId: 'cj-test' });
    expect(calls.map((c) => c.task).filter((t, i, all) => t !== all[i - 1])).toEqual(['plan', 'copyBatch', 'finalize', 'cleanUp']);
    const copies = calls.filter((c) => c.task === 'copyBatch').map((c) => c.input);
    expect(copies).toHaveLength(44);
    expect(copies.map((c) => c.round)).toEqual([...copies.map((c) => c.round)].sort((a, b) => a - b));
    expect(copies.filter((c) => c.round === 2).map((c) => c.batch).sort((a, b) => a - b)).toEqual(rounds[1]);
    for (const input of copies) expect(input).toEqual({ jobId: 'cj-test', round: expect.any(Number), batch: expect.any(Number) });
    expect(peak()).toBeGreaterThan(1);
    expect(peak()).toBeLessThanOrEqual(COPY_BATCH_CONCURRENCY);
  });

  it('retries a transient batch failure and succeeds', async () => {
    let failures = 0;
    const { calls, handlers } = stubs([[0, 1]], async (input) => {
      if (input.batch === 1 && failures < 2) {
        failures++;
        throw Object.assign(new Error('sled throttled'), { name: COPY_ERRORS.transient });
      }
      return { tasks: 1, chunks: 1 };
    });
    await expect(run(deployed, handlers)).resolves.toEqual({ jobId: 'cj-test' });
    expect(failures).toBe(2);
    expect(calls.filter((c) => c.task === 'copyBatch')).toHaveLength(4);
    expect(calls.some((c) => c.task === 'markFailed')).toBe(false);
  });

  it('on a permanent batch failure, stops, marks the job failed with the error, and fails the execution', async () => {
    const { calls, handlers } = stubs([[0], [0, 1]], async (input) => {
      if (input.round === 2 && input.batch === 1) throw Object.assign(new Error('disk on fire'), { name: 'Sleds.ChecksumMismatch' });
      return { tasks: 1, chunks: 1 };
    });
    await expect(run(deployed, handlers)).rejects.toThrow(/cleaned up/);
    const failed = calls.filter((c) => c.task === 'markFailed');
    expect(failed).toHaveLength(1);
    // Locally the batch's own error reaches the catch; on AWS, the Distributed Map reports
    // States.ExceedToleratedFailureThreshold instead (see CopyJobStateMachineProps.batchMap).
    expect(failed[0]!.input).toEqual({ jobId: 'cj-test', error: { Error: 'Sleds.ChecksumMismatch', Cause: 'disk on fire' } });
    expect(calls.some((c) => c.task === 'finalize' || c.task === 'cleanUp')).toBe(false);
  });

  it('the embedded cloud\'s LocalWorkflowRunner builds this very definition and runs a job through it', async () => {
    const { calls, handlers } = stubs([[0, 1], [0]]);
    const runner = new LocalWorkflowRunner(
      Object.fromEntries(TASKS.map((task) => [task, async () => handlers[task]])) as Record<CopyJobTask, () => Promise<TaskHandler>>,
      { retryIntervalMs: 0 },
    );
    const { executionArn } = await runner.start('cj-runner', { jobId: 'cj-runner' });
    await runner.drain();
    expect(calls.filter((c) => c.task === 'copyBatch')).toHaveLength(3);
    const entered = (await runner.history(executionArn)).filter((e) => e.type === 'StateEntered').map((e) => e.state);
    expect(entered).toContain(COPY_JOB_STATES.batches);
    expect(entered).toContain(COPY_JOB_STATES.copyBatch);
    expect(entered.at(-1)).toBe(COPY_JOB_STATES.succeeded);
  });
});
