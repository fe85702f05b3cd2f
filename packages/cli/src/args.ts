/**
 * The CLI's argument parser: the one shared by every arcal entry point (`@arcal/contracts/args`, node:util
 * parseArgs underneath), re-exported so the commands import it from one place.
 */
export { type ArgsSpec, int, type ParsedArgs, parseArgs, str } from '@arcal/contracts/args';
