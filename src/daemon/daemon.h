/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/**
 * daemon_main() - parse the command line and the config file, open the
 * backend, detach, run the event loop until SIGTERM/SIGINT.
 * Returns the process exit status.
 */
int daemon_main(int argc, char **argv);
