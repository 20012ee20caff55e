/**
 * Runs the bearer controller alone:
 *   tsx simulators/bearer-controller/main.ts --port 9101 --seed 7 --time-scale 1 [--cells 20] [--host 127.0.0.1]
 * SIGTERM or SIGINT stops it cleanly.
 */
import { parseSimulatorArgs, runSimulator } from '../common/cli.ts';
import { startBearerController } from './index.ts';

runSimulator({
  name: 'bearer controller',
  usage: 'usage: tsx simulators/bearer-controller/main.ts [--port 9101] [--seed 1] [--time-scale 1] [--cells 20] [--host 127.0.0.1]',
  start(argv) {
    const { extra, ...options } = parseSimulatorArgs(argv, 9101, ['cells']);
    return startBearerController({ ...options, cells: extra.cells });
  },
  describe(controller) {
    const { seed, timeScale, cells } = controller.model.options;
    return { seed, timeScale, cells };
  },
});
