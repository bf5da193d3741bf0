import { runService } from '../shared/lifecycle/service.ts';
import { issuerService } from './issuer-service.ts';

await runService(issuerService);
