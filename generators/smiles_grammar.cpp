#include "generators/smiles_grammar.h"

#include <algorithm>
#include <cctype>
#include <utility>

namespace labloop::generators {

namespace {

using Kind = SmilesGrammar::Kind;

constexpr uint8_t kUnlimited = 255;

// The organic-subset atoms and '*', with the bond orders each may have (its largest neutral
// valence; aromatic atoms as their element); 0: not such an atom.
uint8_t OrganicCapacity(const std::string& t) {
  static const std::pair<const char*, uint8_t> kAtoms[] = {
      {"B", 3}, {"C", 4},  {"N", 3},  {"O", 2}, {"P", 5},         {"S", 6},
      {"F", 1}, {"Cl", 1}, {"Br", 1}, {"I", 5}, {"b", 3},         {"c", 4},
      {"n", 3}, {"o", 2},  {"p", 5},  {"s", 6}, {"*", kUnlimited}};
  for (const auto& [atom, capacity] : kAtoms) {
    if (t == atom) return capacity;
  }
  return 0;
}

uint8_t BondOrder(const std::string& t) { return t == "=" ? 2 : t == "#" ? 3 : 1; }

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
    : kinds_(tokens.size(), Kind::kNever),
      labels_(tokens.size(), -1),
      orders_(tokens.size(), 0),
      capacities_(tokens.size(), 0) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (t.size() > 2 && t.front() == '[' && t.back() == ']') {
      kinds_[i] = Kind::kAtom;
      capacities_[i] = kUnlimited;  // charges and hydrogens are RDKit's to check
    } else if (OrganicCapacity(t) > 0) {
      kinds_[i] = Kind::kAtom;
      capacities_[i] = OrganicCapacity(t);
    } else if (t == "-" || t == "=" || t == "#" || t == ":" || t == "/" || t == "\\") {
      kinds_[i] = Kind::kBond;
      orders_[i] = BondOrder(t);
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
  if (!SyntaxAllows(s, token)) return false;
  return ValenceAllows(s, token) || ValenceStuck(s);
}

bool SmilesGrammar::ValenceStuck(const State& s) const {
  for (size_t t = 0; t < kinds_.size(); ++t) {
    const auto token = static_cast<int64_t>(t);
    if (SyntaxAllows(s, token) && ValenceAllows(s, token)) return false;
  }
  return true;
}

bool SmilesGrammar::ValenceAllows(const State& s, int64_t token) const {
  // Room on atom `a` for `order` more: the new bond must fit.
  auto room = [&](int32_t a, int order) { return s.used[a] + order <= s.capacity[a]; };
  const int order = s.pending > 0 ? s.pending : 1;  // of the bond the token would make
  switch (kinds_[token]) {
    case Kind::kAtom:
      if (s.last == Kind::kDot) return true;  // starts a fragment: no bond
      return room(s.atom, order) && order <= capacities_[token];
    case Kind::kBond:
      return room(s.atom, orders_[token]);
    case Kind::kOpen:
      return room(s.atom, 1);
    case Kind::kRing: {
      const int label = labels_[token];
      const int32_t opener = s.ring[label] - 1;
      if (opener < 0) return room(s.atom, order);
      // Closing: the closure's own bond, or else the opening's, on this atom; on the opener only
      // what the opening did not count yet.
      const int close = s.pending > 0 ? s.pending : s.ring_order[label];
      return room(s.atom, close) && room(opener, std::max(0, close - s.ring_order[label]));
    }
    default:
      return true;
  }
}

bool SmilesGrammar::SyntaxAllows(const State& s, int64_t token) const {
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
  bool any = false;
  for (size_t t = 0; t < kinds_.size(); ++t) {
    const auto token = static_cast<int64_t>(t);
    allowed[t] = SyntaxAllows(state, token) && ValenceAllows(state, token);
    any = any || allowed[t];
  }
  if (any) return;
  for (size_t t = 0; t < kinds_.size(); ++t) {
    allowed[t] = SyntaxAllows(state, static_cast<int64_t>(t));
  }
}

void SmilesGrammar::Advance(State& s, int64_t token) const {
  const Kind kind = kinds_[token];
  switch (kind) {
    case Kind::kAtom: {
      const int32_t atom = static_cast<int32_t>(s.parent.size());
      const bool bonded = s.last != Kind::kDot;
      const uint8_t order = bonded ? (s.pending > 0 ? s.pending : 1) : 0;
      if (bonded) s.used[s.atom] = static_cast<uint8_t>(std::min(255, s.used[s.atom] + order));
      s.parent.push_back(bonded ? s.atom : -1);
      s.used.push_back(order);
      s.capacity.push_back(capacities_[token]);
      s.atom = atom;
      s.closed_here.clear();
      break;
    }
    case Kind::kBond:
      s.pending = orders_[token];
      break;
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
      const int label = labels_[token];
      int32_t& opener = s.ring[label];
      auto add = [&](int32_t a, int order) {
        s.used[a] = static_cast<uint8_t>(std::min(255, s.used[a] + std::max(0, order)));
      };
      if (opener == 0) {
        opener = s.atom + 1;
        s.ring_order[label] = s.pending > 0 ? s.pending : 1;
        add(s.atom, s.ring_order[label]);
        ++s.open_rings;
      } else {
        const int close = s.pending > 0 ? s.pending : s.ring_order[label];
        add(s.atom, close);
        add(opener - 1, close - s.ring_order[label]);
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
  if (kind != Kind::kBond) s.pending = 0;  // an atom or a ring label took the bond
  s.last = kind;
}

}  // namespace labloop::generators
