/** Worker entry: one emulator on its own thread (see EmulatorOptions.threads). */
import { parentPort, workerData } from 'node:worker_threads';
import { startEmulator, type EmulatorKind, type EmulatorOptions, type EmulatorThreadMessage, type EmulatorThreadRequest } from './emulators.js';
import { answerAboutThisThread, gcPauseMs } from './thread-stats.js';

const port = parentPort;
if (!port) throw new Error('the emulator thread needs a parent port');
const { kind, options } = workerData as { kind: EmulatorKind; options: EmulatorOptions };
gcPauseMs();
const emulator = await startEmulator(kind, options);
const say = (message: EmulatorThreadMessage) => port.postMessage(message);
port.on('message', ({ id, ask }: EmulatorThreadRequest) => {
  if (ask !== 'stop') return say({ id, answer: answerAboutThisThread(ask, kind) });
  void emulator.stop().then(() => {
    say({ id, answer: 0 });
    port.close();
  });
});
say({ endpoint: emulator.endpoint });
