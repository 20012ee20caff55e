/**
 * Runs the line controller alone:
 *   tsx simulators/line-controller/main.ts --port 9103 --seed 1 --time-scale 1 [--sample-interval 1000] [--host 127.0.0.1]
 * SIGTERM or SIGINT stops it cleanly.
 */
import { parseSimulatorArgs, runSimulator } from '../common/cli.ts';
import { startLineController } from './index.ts';

runSimulator({
  name: 'line controller',
  usage: 'usage: tsx simulators/line-controller/main.ts [--port 9103] [--seed 1] [--time-scale 1] [--sample-interval <ms>] [--host 127.0.0.1]',
  start(argv) {
    const { extra, ...options } = parseSimulatorArgs(argv, 9103, ['sample-interval']);
    return startLineController({ ...options, sampleIntervalMs: extra['sample-interval'] });
  },
  describe(controller) {
    const { seed, timeScale, sampleIntervalMs } = controller.model.options;
    return { seed, timeScale, sampleIntervalMs, lines: controller.model.services().map((s) => s.id) };
  },
});
