import type { WorkflowEvent, WorkflowTimeline } from './ports.js';

/** One child execution's events (a batch of a Distributed Map), as its own history lists them. */
export interface ChildHistory {
  /** The child execution's name; its events carry it as `execution`. */
  readonly name: string;
  readonly events: readonly WorkflowEvent[];
}

/**
 * Merges a job's own events and its child executions' into one timeline, oldest first. Each
 * history is already in order; events at the same instant keep the parent's before the
 * children's, and the children's in the order given, so a merge of the same histories is
 * always the same. `childExecutions` is how many children exist; fewer given means truncated.
 */
export function mergeTimeline(
  parent: readonly WorkflowEvent[],
  children: readonly ChildHistory[],
  childExecutions = children.length,
  /** False when the listing stopped at its bound: there are `childExecutions` or more. */
  totalKnown = true,
): WorkflowTimeline {
  const sources = [parent, ...children.map((child) => child.events.map((event) => ({ ...event, execution: child.name })))];
  const tagged = sources.flatMap((events, source) => events.map((event, position) => ({ event, source, position, at: Date.parse(event.timestamp) })));
  tagged.sort((a, b) => a.at - b.at || a.source - b.source || a.position - b.position);
  const events = tagged.map(({ event }) => event);
  if (totalKnown && childExecutions <= children.length) return { events };
  return {
    events,
    truncated: {
      childExecutions,
      included: children.length,
      note: `events of the newest ${children.length} of ${childExecutions}${totalKnown ? '' : ' or more'} batch executions are included; the others are left out`,
    },
  };
}
