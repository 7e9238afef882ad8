#pragma once
// NewCampaignWizard: creates a campaign from a few choices. It writes the config as TOML next to
// the campaign file (shown on the last page, so the chemist can keep and edit it) and runs
// engine::InitCampaign on a worker thread, which imports the library.

#include <QString>
#include <QWizard>

class QCheckBox;
class QComboBox;
class QLineEdit;
class QPlainTextEdit;
class QSpinBox;

namespace labloop::gui {

struct WizardSettings {
  QString name = "my-campaign";
  QString library;        // .smi, .csv, .tsv, .sdf (optionally .gz)
  QString smiles_column;  // CSV/TSV only; "" lets the reader find it
  QString id_column;      // CSV/TSV only
  QString property;       // the objective
  QString direction = "maximize";
  int max_evaluations = 100;
  int batch_size = 10;
  int initial_batch = 10;
  QString model = "tanimoto_gp";  // tanimoto_gp, deep_ensemble, mc_dropout, dmpnn, gp_dmpnn
  QString acquisition = "ucb";
  QString simulator = "lookup";      // lookup (a CSV column) or xtb
  QString lookup_table;              // lookup: the CSV with the values
  QString value_column;              // lookup: the column with the property
  bool approve_simulations = false;  // every simulation waits for a person
  QString campaign_path;             // the .labloop file to create
};

// The campaign config for `settings`, as TOML (keys of app/engine/campaign_config.cpp).
QString CampaignToml(const WizardSettings& settings);
// Where the config goes: the campaign path with the extension .toml.
QString TomlPathFor(const QString& campaign_path);
// Checks the settings a user can get wrong; returns the first problem or "".
QString CheckSettings(const WizardSettings& settings);
// Writes the TOML next to the campaign file and creates the campaign (slow: imports the library;
// call it off the GUI thread). Returns an error message or "".
QString CreateCampaign(const WizardSettings& settings);
// The header of a CSV/TSV file, or empty for other files.
QStringList CsvColumns(const QString& path);

class NewCampaignWizard : public QWizard {
  Q_OBJECT

 public:
  explicit NewCampaignWizard(QWidget* parent = nullptr);

  WizardSettings Settings() const;
  void SetSettings(const WizardSettings& settings);
  // The TOML the last page shows.
  QString TomlText() const;
  // Writes and creates the campaign with a busy dialog; returns an error message or "".
  QString Create();
  // The campaign file once created.
  QString CreatedPath() const { return created_path_; }

  bool validateCurrentPage() override;
  void accept() override;

 private:
  void LibraryChanged();
  void UpdatePreview();

  QString created_path_;
  QLineEdit* name_;
  QLineEdit* library_;
  QComboBox* smiles_column_;
  QComboBox* id_column_;
  QComboBox* property_;
  QComboBox* direction_;
  QComboBox* simulator_;
  QLineEdit* lookup_table_;
  QComboBox* value_column_;
  QSpinBox* max_evaluations_;
  QSpinBox* batch_size_;
  QSpinBox* initial_batch_;
  QComboBox* model_;
  QComboBox* acquisition_;
  QCheckBox* approve_;
  QLineEdit* campaign_path_;
  QPlainTextEdit* preview_;
  int library_page_ = 0, objective_page_ = 0, model_page_ = 0, file_page_ = 0;
};

}  // namespace labloop::gui
