import { GetExecutionHistoryCommand, StartExecutionCommand, type HistoryEvent, type SFNClient } from '@aws-sdk/client-sfn';
import type { WorkflowEvent, WorkflowRunner } from '../copy-jobs/ports.js';
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

/** The copy-job state machine on AWS Step Functions. */
export class SfnWorkflowRunner implements WorkflowRunner {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

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
    const events: WorkflowEvent[] = [];
    let nextToken: string | undefined;
    try {
      do {
        const page = await this.sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 1000 }));
        events.push(...(page.events ?? []).map(describe));
        nextToken = page.nextToken;
      } while (nextToken);
    } catch (error) {
      throw translateAwsError('Step Functions', error);
    }
    return events;
  }
}
