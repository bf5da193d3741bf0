import { MemoryCache } from '../../src/shared/cache/memory-cache.ts';
import { describeCacheContract } from '../support/cache-contract.ts';

describeCacheContract('in-process', () => new MemoryCache());
