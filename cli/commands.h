/*
 * commands.h: the subcommands of `taskscope`. Each takes the arguments
 * after its name and returns an exit code (0 ok, 1 runtime error, 2 usage).
 */
#ifndef TASKSCOPE_CLI_COMMANDS_H
#define TASKSCOPE_CLI_COMMANDS_H

int ts_cmd_demo(int argc, char **argv);
int ts_cmd_run(int argc, char **argv);
int ts_cmd_query(int argc, char **argv);
int ts_cmd_attach(int argc, char **argv);
int ts_cmd_console(int argc, char **argv);

#endif /* TASKSCOPE_CLI_COMMANDS_H */
