#!/usr/bin/env node
/** `mustgather`: see bin/cli.ts for the commands. */
import { main } from './cli.js';

process.exitCode = await main(process.argv.slice(2));
