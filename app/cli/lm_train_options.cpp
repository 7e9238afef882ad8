#include "app/cli/lm_train_options.h"

#include <iostream>

#include <CLI/CLI.hpp>

namespace labloop::cli {

void AddLmTrainOptions(CLI::App& command, generators::LmTrainOptions& options) {
  command.add_option("--data", options.data, "SMILES file, one molecule a line (.gz too)")
      ->required();
  command.add_option("-o,--output", options.output, "model file to write")->required();
  command.add_option("--epochs", options.epochs, "passes over the data");
  command.add_option("--init", options.init,
                     "train this model further (keeps its sizes and vocabulary)");
  command.add_option("--batch-size", options.batch_size, "SMILES a batch");
  command.add_option("--learning-rate", options.learning_rate, "Adam's, for the first epoch");
  command
      .add_option("--lr-decay", options.lr_decay,
                  "the learning rate is multiplied by this after each epoch")
      ->capture_default_str();
  command.add_option("--embedding", options.embedding, "token embedding width");
  command.add_option("--hidden", options.hidden, "LSTM width");
  command.add_option("--layers", options.layers, "LSTM layers");
  command.add_option("--dropout", options.dropout, "between LSTM layers");
  command.add_option("--max-molecules", options.max_molecules, "use the first N (0: all)");
  command.add_option("--seed", options.seed, "random seed");
  command.add_option("--threads", options.threads, "LibTorch threads (0: one per core)");
  command.add_option("--device", options.device, "cpu, cuda or cuda:N");
}

Status RunLmTrain(generators::LmTrainOptions options) {
  options.log = [](const std::string& line) { std::cout << line << std::endl; };
  LABLOOP_TRY(generators::TrainSmilesLm(options));
  std::cout << "wrote " << options.output << "\n";
  return {};
}

}  // namespace labloop::cli
