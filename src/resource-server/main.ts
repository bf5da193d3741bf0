import { runService } from '../shared/lifecycle/service.ts';
import { taskApiService } from './task-api-service.ts';

await runService(taskApiService);
