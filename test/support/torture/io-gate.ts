import type { Services } from '../../../lib/wiring.js';

/** Holds every AWS call of a set of clients while closed: a paused process, as the rest of the world sees it. */
export class IoGate {
  private held: Promise<void> | undefined;
  private release: (() => void) | undefined;

  constructor(clients: Services['clients']) {
    // The document client shares the DynamoDB client's middleware stack.
    for (const client of [clients.s3, clients.dynamodb, clients.sqs] as Array<{ middlewareStack: any }>) {
      client.middlewareStack.add(
        (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
          while (this.held) await this.held;
          return next(args);
        },
        { step: 'initialize', name: 'tortureIoGate' },
      );
    }
  }

  close(): void {
    this.held ??= new Promise((resolve) => {
      this.release = resolve;
    });
  }

  open(): void {
    const release = this.release;
    this.held = undefined;
    this.release = undefined;
    release?.();
  }
}

