// The spawner suite on the native posix_spawn backend (skipped when the addon is not built).
import { silentLogger } from '../../src/log.js';
import { loadNativeStarter } from '../../src/cgi/spawn-native.js';
import { spawnSuite } from './spawn-suite.js';

const available = loadNativeStarter(silentLogger()) !== null;
if (!available) console.log('# native spawn addon not built (npm run build:native): skipping its suite');
spawnSuite('native', available ? false : 'native spawn addon not built');
