#include "gui/new_campaign_wizard.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSaveFile>
#include <QSpinBox>
#include <QVBoxLayout>
#include <functional>

#include "app/engine/engine.h"
#include "gui/busy_task.h"

namespace labloop::gui {

namespace {

// A TOML basic string.
QString TomlString(const QString& text) {
  QString escaped = text;
  escaped.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
  return '"' + escaped + '"';
}

bool IsTable(const QString& path) {
  const QString lower = path.toLower();
  for (const char* ext : {".csv", ".tsv", ".csv.gz", ".tsv.gz"}) {
    if (lower.endsWith(ext)) return true;
  }
  return false;
}

QComboBox* EditableCombo(QWidget* parent) {
  auto* combo = new QComboBox(parent);
  combo->setEditable(true);
  combo->setInsertPolicy(QComboBox::NoInsert);
  return combo;
}

// A line edit with a "Browse..." button that fills it from a file dialog.
QWidget* WithBrowse(QLineEdit* edit, const std::function<QString()>& ask, QWidget* parent) {
  auto* row = new QWidget(parent);
  auto* layout = new QHBoxLayout(row);
  layout->setContentsMargins(0, 0, 0, 0);
  auto* browse = new QPushButton(QObject::tr("Browse..."), row);
  layout->addWidget(edit, 1);
  layout->addWidget(browse);
  QObject::connect(browse, &QPushButton::clicked, edit, [edit, ask] {
    QString path = ask();
    if (!path.isEmpty()) edit->setText(path);
  });
  return row;
}

void SetComboItems(QComboBox* combo, const QStringList& items) {
  const QString current = combo->currentText();
  combo->clear();
  combo->addItems(items);
  combo->setCurrentText(current);
}

}  // namespace

QString TomlPathFor(const QString& campaign_path) {
  QFileInfo info(campaign_path);
  return info.dir().filePath(info.completeBaseName() + ".toml");
}

QStringList CsvColumns(const QString& path) {
  if (!IsTable(path) || path.toLower().endsWith(".gz")) return {};
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly | QIODevice::Text)) return {};
  const QString header = QString::fromUtf8(file.readLine()).trimmed();
  QStringList columns = header.split(path.toLower().endsWith(".tsv") ? '\t' : ',');
  for (QString& c : columns) c = c.trimmed().remove('"');
  return columns;
}

QString CampaignToml(const WizardSettings& s) {
  const QString library = QFileInfo(s.library).absoluteFilePath();
  QString t;
  t += "# Written by labloop-gui's new-campaign wizard. Every key is described in\n"
       "# examples/qm9-gap/campaign.toml.\n\n";
  t += "[campaign]\nname = " + TomlString(s.name) + "\nseed = 1\n\n";
  t += "[library]\nfiles = [" + TomlString(library) + "]\n";
  if (IsTable(s.library)) {
    if (!s.smiles_column.isEmpty()) t += "smiles_column = " + TomlString(s.smiles_column) + "\n";
    if (!s.id_column.isEmpty()) t += "id_column = " + TomlString(s.id_column) + "\n";
  }
  t += "\n[objective]\nproperty = " + TomlString(s.property) +
       "\ndirection = " + TomlString(s.direction) + "\n\n";
  t += "[model]\nkind = " + TomlString(s.model) + "\n\n";
  t += "[acquisition]\nkind = " + TomlString(s.acquisition) + "\n\n";
  t += "[simulator]\nkind = " + TomlString(s.simulator) + "\n";
  if (s.simulator == "lookup") {
    const QString table = s.lookup_table.isEmpty() ? library : s.lookup_table;
    t += "table = " + TomlString(QFileInfo(table).absoluteFilePath()) + "\n";
    if (!s.smiles_column.isEmpty() && table == library) {
      t += "smiles_column = " + TomlString(s.smiles_column) + "\n";
    }
    t += "value_column = " + TomlString(s.value_column.isEmpty() ? s.property : s.value_column) +
         "\n";
  }
  t += "\n[budget]\ninitial_batch = " + QString::number(s.initial_batch) +
       "\nbatch_size = " + QString::number(s.batch_size) +
       "\nmax_evaluations = " + QString::number(s.max_evaluations) + "\n";
  if (s.approve_simulations) t += "\n[approval]\nroutes = [\"simulate\"]\n";
  return t;
}

QString CheckSettings(const WizardSettings& s) {
  if (s.library.isEmpty() || !QFileInfo(s.library).isFile()) {
    return QObject::tr("choose a library file that exists (SMILES, CSV or SDF)");
  }
  if (s.property.trimmed().isEmpty()) return QObject::tr("name the property to optimize");
  if (s.simulator == "lookup" && !s.lookup_table.isEmpty() && !QFileInfo(s.lookup_table).isFile()) {
    return QObject::tr("the lookup table '%1' does not exist").arg(s.lookup_table);
  }
  if (s.campaign_path.isEmpty()) return QObject::tr("choose where to save the campaign file");
  if (QFileInfo::exists(s.campaign_path)) {
    return QObject::tr("'%1' exists already; choose a new campaign file").arg(s.campaign_path);
  }
  if (!QFileInfo(s.campaign_path).dir().exists()) {
    return QObject::tr("the folder of '%1' does not exist").arg(s.campaign_path);
  }
  return {};
}

QString CreateCampaign(const WizardSettings& settings) {
  if (QString problem = CheckSettings(settings); !problem.isEmpty()) return problem;
  const QString toml_path = TomlPathFor(settings.campaign_path);
  QSaveFile file(toml_path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Text) ||
      file.write(CampaignToml(settings).toUtf8()) < 0 || !file.commit()) {
    return QObject::tr("cannot write '%1': %2").arg(toml_path, file.errorString());
  }
  Status status =
      engine::InitCampaign(settings.campaign_path.toStdString(), toml_path.toStdString());
  if (!status) return QString::fromStdString(status.error().ToString());
  return {};
}

NewCampaignWizard::NewCampaignWizard(QWidget* parent) : QWizard(parent) {
  setWindowTitle(tr("New campaign"));
  setOption(QWizard::NoBackButtonOnStartPage);

  auto* library_page = new QWizardPage(this);
  library_page->setTitle(tr("Library"));
  library_page->setSubTitle(tr("The molecules to choose from: SMILES, CSV/TSV or SDF."));
  library_ = new QLineEdit(library_page);
  smiles_column_ = EditableCombo(library_page);
  id_column_ = EditableCombo(library_page);
  auto* library_form = new QFormLayout(library_page);
  library_form->addRow(tr("Library file:"),
                       WithBrowse(
                           library_,
                           [this] {
                             return QFileDialog::getOpenFileName(
                                 this, tr("Library"), {},
                                 tr("Molecules (*.smi *.csv *.tsv *.sdf *.gz);;All (*)"));
                           },
                           library_page));
  library_form->addRow(tr("SMILES column (CSV):"), smiles_column_);
  library_form->addRow(tr("ID column (CSV):"), id_column_);
  connect(library_, &QLineEdit::textChanged, this, [this] { LibraryChanged(); });
  library_page_ = addPage(library_page);

  auto* objective_page = new QWizardPage(this);
  objective_page->setTitle(tr("Objective and evaluation"));
  objective_page->setSubTitle(
      tr("What to optimize, and how a chosen molecule is measured: looked up in a CSV column "
         "(a retrospective study) or computed with GFN2-xTB (gap, energy, dipole)."));
  property_ = EditableCombo(objective_page);
  direction_ = new QComboBox(objective_page);
  direction_->addItems({"maximize", "minimize"});
  simulator_ = new QComboBox(objective_page);
  simulator_->addItems({"lookup", "xtb"});
  lookup_table_ = new QLineEdit(objective_page);
  lookup_table_->setPlaceholderText(tr("the library file"));
  value_column_ = EditableCombo(objective_page);
  auto* objective_form = new QFormLayout(objective_page);
  objective_form->addRow(tr("Property:"), property_);
  objective_form->addRow(tr("Direction:"), direction_);
  objective_form->addRow(tr("Simulator:"), simulator_);
  objective_form->addRow(tr("Lookup table (CSV):"), WithBrowse(
                                                        lookup_table_,
                                                        [this] {
                                                          return QFileDialog::getOpenFileName(
                                                              this, tr("Lookup table"), {},
                                                              tr("CSV (*.csv *.tsv)"));
                                                        },
                                                        objective_page));
  objective_form->addRow(tr("Value column:"), value_column_);
  connect(simulator_, &QComboBox::currentTextChanged, this, [this](const QString& kind) {
    const bool lookup = kind == "lookup";
    lookup_table_->setEnabled(lookup);
    value_column_->setEnabled(lookup);
    if (!lookup) SetComboItems(property_, {"gap", "energy", "dipole"});
  });
  connect(lookup_table_, &QLineEdit::textChanged, this,
          [this](const QString& path) { SetComboItems(value_column_, CsvColumns(path)); });
  connect(property_, &QComboBox::currentTextChanged, this, [this](const QString& property) {
    if (value_column_->findText(property) >= 0) value_column_->setCurrentText(property);
  });
  objective_page_ = addPage(objective_page);

  auto* model_page = new QWizardPage(this);
  model_page->setTitle(tr("Model and budget"));
  model_ = new QComboBox(model_page);
  model_->addItems({"tanimoto_gp", "deep_ensemble", "mc_dropout", "dmpnn", "gp_dmpnn"});
  acquisition_ = new QComboBox(model_page);
  acquisition_->addItems({"ucb", "ei", "pi", "greedy", "thompson", "random"});
  max_evaluations_ = new QSpinBox(model_page);
  max_evaluations_->setRange(1, 10000000);
  batch_size_ = new QSpinBox(model_page);
  batch_size_->setRange(1, 100000);
  initial_batch_ = new QSpinBox(model_page);
  initial_batch_->setRange(1, 100000);
  approve_ = new QCheckBox(tr("Every simulation waits for a person's approval"), model_page);
  auto* model_form = new QFormLayout(model_page);
  model_form->addRow(tr("Model:"), model_);
  model_form->addRow(tr("Acquisition:"), acquisition_);
  model_form->addRow(tr("Budget (evaluations):"), max_evaluations_);
  model_form->addRow(tr("Batch size:"), batch_size_);
  model_form->addRow(tr("First (random) batch:"), initial_batch_);
  model_form->addRow(QString(), approve_);
  model_page_ = addPage(model_page);

  auto* file_page = new QWizardPage(this);
  file_page->setTitle(tr("Campaign file"));
  file_page->setSubTitle(tr("The campaign lives in one file; its config is written beside it."));
  name_ = new QLineEdit(file_page);
  campaign_path_ = new QLineEdit(file_page);
  auto* file_form = new QFormLayout(file_page);
  file_form->addRow(tr("Name:"), name_);
  file_form->addRow(tr("Campaign file:"), WithBrowse(
                                              campaign_path_,
                                              [this] {
                                                return QFileDialog::getSaveFileName(
                                                    this, tr("Campaign file"),
                                                    name_->text() + ".labloop",
                                                    tr("Campaigns (*.labloop)"));
                                              },
                                              file_page));
  file_page_ = addPage(file_page);

  auto* review_page = new QWizardPage(this);
  review_page->setTitle(tr("Review"));
  review_page->setSubTitle(tr("Finish writes this config and imports the library."));
  preview_ = new QPlainTextEdit(review_page);
  preview_->setReadOnly(true);
  preview_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  auto* review_layout = new QVBoxLayout(review_page);
  review_layout->addWidget(preview_);
  addPage(review_page);
  connect(this, &QWizard::currentIdChanged, this, [this] { UpdatePreview(); });

  SetSettings(WizardSettings{});
  resize(640, 480);
}

void NewCampaignWizard::LibraryChanged() {
  const QStringList columns = CsvColumns(library_->text());
  SetComboItems(smiles_column_, columns);
  SetComboItems(id_column_, QStringList{QString()} + columns);
  SetComboItems(property_, columns);
  if (lookup_table_->text().isEmpty()) SetComboItems(value_column_, columns);
  if (smiles_column_->currentText().isEmpty()) {
    for (const QString& c : columns) {
      if (c.compare("smiles", Qt::CaseInsensitive) == 0) smiles_column_->setCurrentText(c);
    }
  }
  if (campaign_path_->text().isEmpty() && !library_->text().isEmpty()) {
    QFileInfo info(library_->text());
    campaign_path_->setText(info.dir().filePath(info.completeBaseName() + ".labloop"));
  }
}

WizardSettings NewCampaignWizard::Settings() const {
  WizardSettings s;
  s.name = name_->text().trimmed();
  s.library = library_->text().trimmed();
  s.smiles_column = smiles_column_->currentText().trimmed();
  s.id_column = id_column_->currentText().trimmed();
  s.property = property_->currentText().trimmed();
  s.direction = direction_->currentText();
  s.simulator = simulator_->currentText();
  s.lookup_table = lookup_table_->text().trimmed();
  s.value_column = value_column_->currentText().trimmed();
  s.max_evaluations = max_evaluations_->value();
  s.batch_size = batch_size_->value();
  s.initial_batch = initial_batch_->value();
  s.model = model_->currentText();
  s.acquisition = acquisition_->currentText();
  s.approve_simulations = approve_->isChecked();
  s.campaign_path = campaign_path_->text().trimmed();
  return s;
}

void NewCampaignWizard::SetSettings(const WizardSettings& s) {
  name_->setText(s.name);
  library_->setText(s.library);
  smiles_column_->setCurrentText(s.smiles_column);
  id_column_->setCurrentText(s.id_column);
  simulator_->setCurrentText(s.simulator);
  property_->setCurrentText(s.property);
  direction_->setCurrentText(s.direction);
  lookup_table_->setText(s.lookup_table);
  value_column_->setCurrentText(s.value_column);
  max_evaluations_->setValue(s.max_evaluations);
  batch_size_->setValue(s.batch_size);
  initial_batch_->setValue(s.initial_batch);
  model_->setCurrentText(s.model);
  acquisition_->setCurrentText(s.acquisition);
  approve_->setChecked(s.approve_simulations);
  campaign_path_->setText(s.campaign_path);
  UpdatePreview();
}

QString NewCampaignWizard::TomlText() const { return preview_->toPlainText(); }

void NewCampaignWizard::UpdatePreview() {
  const WizardSettings s = Settings();
  QString header;
  if (!s.campaign_path.isEmpty()) header = "# " + TomlPathFor(s.campaign_path) + "\n";
  preview_->setPlainText(header + CampaignToml(s));
}

bool NewCampaignWizard::validateCurrentPage() {
  const WizardSettings s = Settings();
  QString problem;
  const int page = currentId();
  if (page == library_page_ && (s.library.isEmpty() || !QFileInfo(s.library).isFile())) {
    problem = tr("Choose a library file that exists.");
  } else if (page == objective_page_ && s.property.isEmpty()) {
    problem = tr("Name the property to optimize.");
  } else if (page == model_page_ && s.initial_batch > s.max_evaluations) {
    problem = tr("The first batch is larger than the budget.");
  } else if (page == file_page_) {
    problem = CheckSettings(s);
  }
  if (!problem.isEmpty()) {
    QMessageBox::warning(this, tr("New campaign"), problem);
    return false;
  }
  return true;
}

QString NewCampaignWizard::Create() {
  const WizardSettings settings = Settings();
  QString error = RunBusy(this,
                          tr("Creating %1 and importing the library...")
                              .arg(QFileInfo(settings.campaign_path).fileName()),
                          [settings] { return CreateCampaign(settings); });
  if (error.isEmpty()) created_path_ = settings.campaign_path;
  return error;
}

void NewCampaignWizard::accept() {
  if (QString error = Create(); !error.isEmpty()) {
    QMessageBox::critical(this, tr("New campaign"),
                          tr("The campaign was not created:\n%1").arg(error));
    return;
  }
  QWizard::accept();
}

}  // namespace labloop::gui
