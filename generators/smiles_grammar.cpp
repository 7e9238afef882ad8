#include "generators/smiles_grammar.h"

#include <cctype>

namespace labloop::generators {

namespace {

using Kind = SmilesGrammar::Kind;

bool IsOrganicAtom(const std::string& t) {
  static const char* const kAtoms[] = {"B", "C", "N", "O", "P", "S", "F", "Cl", "Br",
                                       "I", "b", "c", "n", "o", "p", "s", "*"};
  for (const char* a : kAtoms) {
    if (t == a) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> TokenizeSmiles(const std::string& smiles) {
  std::vector<std::string> tokens;
  for (size_t i = 0; i < smiles.size();) {
    size_t length = 1;
    if (smiles[i] == '[') {
      const size_t close = smiles.find(']', i);
      length = close == std::string::npos ? smiles.size() - i : close - i + 1;
    } else if (smiles.compare(i, 2, "Cl") == 0 || smiles.compare(i, 2, "Br") == 0) {
      length = 2;
    } else if (smiles[i] == '%' && i + 2 < smiles.size()) {
      length = 3;
    }
    tokens.push_back(smiles.substr(i, length));
    i += length;
  }
  return tokens;
}

SmilesGrammar::SmilesGrammar(const std::vector<std::string>& tokens, int64_t end,
                             const std::vector<int64_t>& never)
    : kinds_(tokens.size(), Kind::kNever), labels_(tokens.size(), -1) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (t.size() > 2 && t.front() == '[' && t.back() == ']') {
      kinds_[i] = Kind::kAtom;
    } else if (IsOrganicAtom(t)) {
      kinds_[i] = Kind::kAtom;
    } else if (t == "-" || t == "=" || t == "#" || t == ":" || t == "/" || t == "\\") {
      kinds_[i] = Kind::kBond;
    } else if (t == "(") {
      kinds_[i] = Kind::kOpen;
    } else if (t == ")") {
      kinds_[i] = Kind::kClose;
    } else if (t == ".") {
      kinds_[i] = Kind::kDot;
    } else if (t.size() == 1 && std::isdigit(static_cast<unsigned char>(t[0]))) {
      kinds_[i] = Kind::kRing;
      labels_[i] = t[0] - '0';
    } else if (t.size() == 3 && t[0] == '%' && std::isdigit(static_cast<unsigned char>(t[1])) &&
               std::isdigit(static_cast<unsigned char>(t[2]))) {
      kinds_[i] = Kind::kRing;
      labels_[i] = (t[1] - '0') * 10 + (t[2] - '0');
    }
    // Anything else (a token this grammar does not know) is never sampled.
  }
  kinds_.at(end) = Kind::kEnd;
  for (int64_t t : never) kinds_.at(t) = Kind::kNever;
}

bool SmilesGrammar::IsAllowed(const State& s, int64_t token) const {
  // After an atom, a ring label or ')' the chain may go on in every way; after a bond only an
  // atom or a ring label; after '(' an atom or a bond; at the start (or after '.') an atom.
  const bool after_atom = s.last == Kind::kAtom || s.last == Kind::kRing;
  const bool chain_end = after_atom || s.last == Kind::kClose;
  switch (kinds_[token]) {
    case Kind::kAtom:
      return true;
    case Kind::kBond:
      return chain_end || s.last == Kind::kOpen;
    case Kind::kOpen:
      return chain_end;
    case Kind::kClose:
      return chain_end && s.depth > 0;
    case Kind::kRing: {
      if (!after_atom && (s.last != Kind::kBond || s.bond_after_branch)) return false;
      const int32_t opener = s.ring[labels_[token]] - 1;
      if (opener < 0) return true;  // opens the ring
      // Closing: not onto the same atom, nor onto an atom it is already bonded to (in the chain
      // or by an earlier closure).
      if (opener == s.atom || opener == s.parent[s.atom] || s.parent[opener] == s.atom) {
        return false;
      }
      for (int32_t a : s.closed_here) {
        if (a == opener) return false;
      }
      return true;
    }
    case Kind::kDot:
    case Kind::kEnd:
      return chain_end && s.depth == 0 && s.open_rings == 0;
    case Kind::kNever:
      return false;
  }
  return false;
}

void SmilesGrammar::Allowed(const State& state, uint8_t* allowed) const {
  for (size_t t = 0; t < kinds_.size(); ++t) allowed[t] = IsAllowed(state, static_cast<int64_t>(t));
}

void SmilesGrammar::Advance(State& s, int64_t token) const {
  const Kind kind = kinds_[token];
  switch (kind) {
    case Kind::kAtom: {
      const int32_t atom = static_cast<int32_t>(s.parent.size());
      s.parent.push_back(s.last == Kind::kDot ? -1 : s.atom);
      s.atom = atom;
      s.closed_here.clear();
      break;
    }
    case Kind::kOpen:
      s.branch_from.push_back(s.atom);
      ++s.depth;
      break;
    case Kind::kClose:
      if (!s.branch_from.empty()) {
        s.atom = s.branch_from.back();
        s.branch_from.pop_back();
      }
      --s.depth;
      break;
    case Kind::kRing: {
      int32_t& opener = s.ring[labels_[token]];
      if (opener == 0) {
        opener = s.atom + 1;
        ++s.open_rings;
      } else {
        s.closed_here.push_back(opener - 1);
        opener = 0;
        --s.open_rings;
      }
      break;
    }
    default:
      break;
  }
  s.bond_after_branch = kind == Kind::kBond && (s.last == Kind::kOpen || s.last == Kind::kClose);
  s.last = kind;
}

}  // namespace labloop::generators
