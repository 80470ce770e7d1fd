import type { SFNClient } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { SfnWorkflowRunner } from '../../lib/aws/sfn-workflow-runner.js';
import { mergeTimeline } from '../../lib/copy-jobs/workflow-timeline.js';

const MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:CopyJob';
const JOB = 'arn:aws:states:us-east-1:123456789012:execution:CopyJob:copy-1';
const at = (second: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, second));

interface FakeEvent {
  readonly timestamp: Date;
  readonly type: string;
  readonly stateEnteredEventDetails?: { name: string };
}

const entered = (second: number, name: string): FakeEvent => ({ timestamp: at(second), type: 'TaskStateEntered', stateEnteredEventDetails: { name } });

/**
 * A fake Step Functions client: a job with map runs, each with child executions and their
 * histories. It pages every list (page size 2) so the runner must follow nextToken, and
 * records each call.
 */
function fakeSfn(world: { job: FakeEvent[]; mapRuns: Record<string, Array<{ name: string; start: number; events: FakeEvent[] }>> }) {
  const calls: Array<{ command: string; input: Record<string, any> }> = [];
  const page = <T>(items: T[], token: string | undefined, size = 2) => {
    const from = Number(token ?? 0);
    const next = from + size < items.length ? String(from + size) : undefined;
    return { items: items.slice(from, from + size), nextToken: next };
  };
  const histories = new Map<string, FakeEvent[]>([[JOB, world.job]]);
  for (const [mapRun, children] of Object.entries(world.mapRuns)) {
    for (const child of children) histories.set(`${mapRun}:${child.name}`, child.events);
  }
  const client = {
    async send(command: { constructor: { name: string }; input: Record<string, any> }) {
      const name = command.constructor.name;
      const { input } = command;
      calls.push({ command: name, input });
      switch (name) {
        case 'GetExecutionHistoryCommand': {
          const events = histories.get(input.executionArn);
          if (!events) throw Object.assign(new Error(`no execution ${input.executionArn}`), { name: 'ExecutionDoesNotExist' });
          const { items, nextToken } = page(events, input.nextToken, Math.min(input.maxResults ?? 1000, 3));
          return { events: items, nextToken };
        }
        case 'ListMapRunsCommand': {
          expect(input.executionArn).toBe(JOB);
          const { items, nextToken } = page(Object.keys(world.mapRuns), input.nextToken);
          return { mapRuns: items.map((mapRunArn) => ({ mapRunArn, executionArn: JOB })), nextToken };
        }
        case 'ListExecutionsCommand': {
          expect(input.stateMachineArn).toBeUndefined();
          // Newest first, as Step Functions lists them.
          const children = [...(world.mapRuns[input.mapRunArn] ?? [])].sort((a, b) => b.start - a.start);
          const { items, nextToken } = page(children, input.nextToken, Math.min(input.maxResults ?? 1000, 2));
          return {
            executions: items.map((child) => ({ executionArn: `${input.mapRunArn}:${child.name}`, name: child.name, startDate: at(child.start), status: 'SUCCEEDED' })),
            nextToken,
          };
        }
        default:
          throw new Error(`unexpected ${name}`);
      }
    },
  };
  return { client: client as unknown as SFNClient, calls };
}

const mapRun = (round: number) => `arn:aws:states:us-east-1:123456789012:mapRun:CopyJob/Copy the batches:round-${round}`;
const batch = (name: string, start: number) => ({
  name,
  start,
  events: [
    { timestamp: at(start), type: 'ExecutionStarted' },
    entered(start, 'Copy a partition batch'),
    { timestamp: at(start + 2), type: 'ExecutionSucceeded' },
  ],
});

describe('mergeTimeline', () => {
  it('merges the children into the parent by time, tags their events, keeps ties stable', () => {
    const parent = [
      { timestamp: at(0).toISOString(), type: 'ExecutionStarted' },
      { timestamp: at(5).toISOString(), type: 'MapRunStarted' },
      { timestamp: at(9).toISOString(), type: 'MapRunSucceeded' },
    ];
    const merged = mergeTimeline(parent, [
      { name: 'b', events: [{ timestamp: at(5).toISOString(), type: 'ExecutionStarted' }, { timestamp: at(7).toISOString(), type: 'ExecutionSucceeded' }] },
      { name: 'a', events: [{ timestamp: at(6).toISOString(), type: 'ExecutionStarted' }] },
    ]);
    expect(merged.truncated).toBeUndefined();
    expect(merged.events.map((e) => [e.type, e.execution ?? 'job', new Date(e.timestamp).getUTCSeconds()])).toEqual([
      ['ExecutionStarted', 'job', 0],
      ['MapRunStarted', 'job', 5],
      ['ExecutionStarted', 'b', 5],
      ['ExecutionStarted', 'a', 6],
      ['ExecutionSucceeded', 'b', 7],
      ['MapRunSucceeded', 'job', 9],
    ]);
  });

  it('says when children were left out', () => {
    const merged = mergeTimeline([], [{ name: 'a', events: [] }], 5);
    expect(merged.truncated).toEqual({ childExecutions: 5, included: 1, note: expect.stringContaining('newest 1 of 5') });
    expect(mergeTimeline([], [{ name: 'a', events: [] }], 1, false).truncated?.note).toContain('1 or more');
  });
});

describe('SfnWorkflowRunner.timeline (fake Step Functions client)', () => {
  const world = {
    job: [
      { timestamp: at(0), type: 'ExecutionStarted' },
      entered(1, 'Plan the copy job'),
      { timestamp: at(10), type: 'MapRunStarted' },
      { timestamp: at(20), type: 'MapRunSucceeded' },
      { timestamp: at(30), type: 'MapRunStarted' },
      { timestamp: at(40), type: 'MapRunSucceeded' },
      { timestamp: at(50), type: 'ExecutionSucceeded' },
    ],
    mapRuns: {
      [mapRun(0)]: [batch('r0-b0', 11), batch('r0-b1', 12), batch('r0-b2', 13)],
      [mapRun(1)]: [batch('r1-b0', 31), batch('r1-b1', 32)],
    },
  };

  it('follows every map run and every child (paged), and merges all their events in order', async () => {
    const { client, calls } = fakeSfn(world);
    const timeline = await new SfnWorkflowRunner(client, MACHINE).timeline(JOB);
    expect(timeline.truncated).toBeUndefined();
    expect(timeline.events).toHaveLength(7 + 5 * 3);
    const times = timeline.events.map((e) => Date.parse(e.timestamp));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const children = [...new Set(timeline.events.flatMap((e) => (e.execution ? [e.execution] : [])))];
    expect(children).toEqual(['r0-b0', 'r0-b1', 'r0-b2', 'r1-b0', 'r1-b1']);
    // Each child's own events stay in its order, right after the map run that started it.
    expect(timeline.events.filter((e) => e.execution === 'r0-b1').map((e) => e.type)).toEqual(['ExecutionStarted', 'TaskStateEntered', 'ExecutionSucceeded']);
    expect(timeline.events.find((e) => e.execution === 'r0-b1' && e.type === 'TaskStateEntered')?.state).toBe('Copy a partition batch');
    expect(timeline.events.findIndex((e) => e.execution === 'r1-b0')).toBeGreaterThan(timeline.events.findIndex((e) => e.type === 'MapRunStarted' && e.timestamp === at(30).toISOString()));
    expect(calls.filter((c) => c.command === 'ListMapRunsCommand')).toHaveLength(1);
    expect(calls.filter((c) => c.command === 'ListExecutionsCommand').map((c) => c.input.mapRunArn)).toEqual([mapRun(0), mapRun(0), mapRun(1)]);
  });

  it('keeps the newest children only, bounded, and says so', async () => {
    const { client, calls } = fakeSfn(world);
    const timeline = await new SfnWorkflowRunner(client, MACHINE, { children: 2 }).timeline(JOB);
    expect(timeline.truncated).toMatchObject({ childExecutions: 5, included: 2 });
    expect([...new Set(timeline.events.flatMap((e) => (e.execution ? [e.execution] : [])))]).toEqual(['r1-b0', 'r1-b1']);
    expect(timeline.events.filter((e) => !e.execution)).toHaveLength(7);
    // Only the kept children's histories are read.
    const read = calls.filter((c) => c.command === 'GetExecutionHistoryCommand').map((c) => String(c.input.executionArn));
    expect(read.some((arn) => arn.includes('r0-'))).toBe(false);
  });

  it('bounds the listing and the events read per child', async () => {
    const { client } = fakeSfn(world);
    const timeline = await new SfnWorkflowRunner(client, MACHINE, { listed: 3, children: 10, eventsPerChild: 2 }).timeline(JOB);
    expect(timeline.truncated).toMatchObject({ childExecutions: 3, included: 3, note: expect.stringContaining('or more') });
    for (const name of ['r0-b0', 'r0-b1', 'r0-b2']) expect(timeline.events.filter((e) => e.execution === name)).toHaveLength(2);
  });

  it('keeps history() as the job execution alone', async () => {
    const { client } = fakeSfn(world);
    const events = await new SfnWorkflowRunner(client, MACHINE).history(JOB);
    expect(events).toHaveLength(7);
    expect(events.every((e) => e.execution === undefined)).toBe(true);
  });
});
