import { ConfigError } from '../errors.js';
import { ENV } from '../config.js';
import type { WorkflowRunner } from './ports.js';

let inProcess: WorkflowRunner | undefined;

/** The embedded cloud registers its in-process Step Functions runner here. */
export function registerInProcessRunner(runner: WorkflowRunner | undefined): void {
  inProcess = runner;
}

/** The in-process runner; without one, a deployment must name its state machine. */
export function inProcessRunner(): WorkflowRunner {
  if (!inProcess) throw new ConfigError(`${ENV.copyStateMachineArn} is required`);
  return inProcess;
}
