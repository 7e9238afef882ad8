#pragma once
// SparseMatrix: rows of sparse features in CSR form, the input of every fingerprint model.
//
// Row i holds indices[offsets[i] .. offsets[i+1]) with the matching values. This layout is what an
// embedding bag consumes directly, so a million-row pool goes to the model without densifying.

#include <cstdint>
#include <vector>

namespace labloop::learners {

struct SparseMatrix {
  int64_t cols = 0;
  std::vector<int64_t> offsets{0};  // Rows() + 1 entries
  std::vector<int64_t> indices;     // each in [0, cols)
  std::vector<float> values;

  explicit SparseMatrix(int64_t columns = 0) : cols(columns) {}
  int64_t Rows() const { return static_cast<int64_t>(offsets.size()) - 1; }

  template <typename Index>
  void AddRow(const std::vector<Index>& row_indices, const std::vector<float>& row_values) {
    indices.insert(indices.end(), row_indices.begin(), row_indices.end());
    values.insert(values.end(), row_values.begin(), row_values.end());
    offsets.push_back(static_cast<int64_t>(indices.size()));
  }

  // `count` rows: this matrix's rows over and over (rows 0, 1, ..., 0, 1, ...), for timing a
  // pool larger than the data at hand.
  SparseMatrix Repeat(int64_t count) const {
    std::vector<int64_t> rows(count);
    for (int64_t r = 0; r < count; ++r) rows[r] = Rows() > 0 ? r % Rows() : 0;
    return Rows() > 0 ? Select(rows) : SparseMatrix(cols);
  }

  // These rows with dense columns appended after the existing ones: extra[r] holds row r's
  // values (every row the same length).
  SparseMatrix AppendColumns(const std::vector<std::vector<float>>& extra) const {
    const int64_t added = extra.empty() ? 0 : static_cast<int64_t>(extra.front().size());
    SparseMatrix out(cols + added);
    for (int64_t r = 0; r < Rows(); ++r) {
      out.indices.insert(out.indices.end(), indices.begin() + offsets[r],
                         indices.begin() + offsets[r + 1]);
      out.values.insert(out.values.end(), values.begin() + offsets[r],
                        values.begin() + offsets[r + 1]);
      for (int64_t k = 0; k < added; ++k) out.indices.push_back(cols + k);
      out.values.insert(out.values.end(), extra[r].begin(), extra[r].end());
      out.offsets.push_back(static_cast<int64_t>(out.indices.size()));
    }
    return out;
  }

  // The rows at `rows`, in that order.
  SparseMatrix Select(const std::vector<int64_t>& rows) const {
    SparseMatrix out(cols);
    for (int64_t r : rows) {
      out.indices.insert(out.indices.end(), indices.begin() + offsets[r],
                         indices.begin() + offsets[r + 1]);
      out.values.insert(out.values.end(), values.begin() + offsets[r],
                        values.begin() + offsets[r + 1]);
      out.offsets.push_back(static_cast<int64_t>(out.indices.size()));
    }
    return out;
  }
};

}  // namespace labloop::learners
