// labloop: the command-line interface. All logic lives in app/engine; this file only starts it.
#include "app/cli/commands.h"

int main(int argc, char** argv) { return labloop::cli::Main(argc, argv); }
