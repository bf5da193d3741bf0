import { loadConfig } from '../../shared/config/config.ts';
import { exitOnStartupError } from '../../shared/config/startup-errors.ts';
import { listen } from '../../shared/http/http-server.ts';
import { onTerminationSignal } from '../../shared/lifecycle/shutdown.ts';
import { createLogger } from '../../shared/logging/logger.ts';
import { buildSpaApp } from './spa-server.ts';

/** `npm run spa` (and `npm start`): serves the demo browser app on SPA_URL's port. */
try {
  const config = loadConfig();
  const log = createLogger({ level: config.log.level, format: config.log.format, name: 'spa' });
  const running = await listen(buildSpaApp(config, log), config.spa.port, config.http.host);
  log.info({ url: config.spa.url, issuer: config.issuer.url, api: config.taskApi.url }, 'demo browser app ready');
  onTerminationSignal(async () => {
    await running.close(config.http.shutdownTimeoutMs);
    log.info('spa stopped');
    process.exit(0);
  });
} catch (error) {
  exitOnStartupError('spa', error);
}
