#include "domain/job_parser.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <map>

#include <nlohmann/json.hpp>

#include "domain/json_numbers.hpp"
#include "domain/prompt_builder.hpp"

namespace quel {

namespace {

using json = nlohmann::json;

/// 2^53: the largest id a JSON number (an IEEE double) still holds exactly.
constexpr int64_t max_whole = int64_t{1} << 53;

const char* const aspect_ratios[] = {"1:1", "2:3",  "3:2",  "3:4", "4:3",
                                     "4:5", "5:4", "9:16", "16:9", "21:9"};

/// Thrown inside the parser and turned into invalid_job at the top; keeps
/// every check a single line instead of threading results through.
struct invalid_input {
  std::string message;
};

[[noreturn]] void fail(std::string message) {
  throw invalid_input{std::move(message)};
}

/// The document being parsed on this thread, for the texts of its numbers
/// (set by parse(); the checks below read numbers as written, not as doubles).
thread_local const exact_json* current_document = nullptr;

class document_scope {
public:
  explicit document_scope(const exact_json& doc) { current_document = &doc; }
  ~document_scope() { current_document = nullptr; }
  document_scope(const document_scope&) = delete;
  document_scope& operator=(const document_scope&) = delete;
};

const number_text* float_text(const json& v) {
  return current_document ? current_document->text_of(v) : nullptr;
}

// Long values (a whole prompt, a big object) would drown the message.
std::string json_text(const json& v) {
  auto* written = float_text(v);
  auto text = written ? written->text : v.dump();
  if (text.size() <= 80)
    return text;
  // Cut on a code point boundary: the message ends up in a PostgreSQL text
  // column, which refuses invalid UTF-8.
  size_t cut = 77;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut;
  return text.substr(0, cut) + "...";
}

size_t code_points(const std::string& utf8) {
  return static_cast<size_t>(std::count_if(utf8.begin(), utf8.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

/// Reads a whole number in the accepted forms (rule 7): a JSON integer, a
/// JSON number without fraction, or a string of decimal digits only.
int64_t whole_number(const json& v, const std::string& where, const char* name,
                     int64_t min, int64_t max) {
  auto prefix = where + name + " " + json_text(v);
  auto beyond = [&] { fail(prefix + " is beyond 2^53"); };
  auto out_of_range = [&](bool above) {
    // Ids (up to 2^53) say so by name: a double cannot hold them exactly.
    if (above && max == max_whole)
      beyond();
    fail(prefix + " is out of range " + std::to_string(min) + ".." + std::to_string(max));
  };
  int64_t value = 0;
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(max))
      out_of_range(true);
    value = static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    value = v.get<int64_t>();
  } else if (v.is_number_float()) {
    // Decided on the text: 39070.0000000000000001 is a double 39070 but not
    // a whole number, 9007199254740993.0 a double 2^53 but beyond it.
    auto* written = float_text(v);
    auto d = v.get<double>();
    bool whole = written ? written->whole : std::isfinite(d) && d == std::floor(d);
    if (!whole)
      fail(prefix + " is not a whole number");
    if (written ? written->beyond_2_53 : std::fabs(d) > static_cast<double>(max_whole))
      (d > 0 && max == max_whole) ? beyond() : out_of_range(d > 0);
    value = written ? written->value : static_cast<int64_t>(d);
  } else if (v.is_string()) {
    auto& s = v.get_ref<const std::string&>();
    if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
      fail(prefix + " is not a whole number (a string must hold decimal digits only)");
    auto digits = s.substr(std::min(s.find_first_not_of('0'), s.size()));
    // 17 digits already exceed 2^53, so only short strings need converting.
    if (digits.size() > 16)
      out_of_range(true);
    value = digits.empty() ? 0 : std::stoll(digits);
  } else {
    fail(prefix + " is not a whole number");
  }
  if (value < min || value > max)
    out_of_range(value > max);
  return value;
}

/// Longest attach `type` (docs/SECURITY.md, "Input limits").
constexpr size_t max_type_chars = 64;

bool type_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
         || c == '_' || c == '-' || c == ' ';
}

std::string stage_name(int stage_index) {
  return "stage " + std::to_string(stage_index);
}

input_ref parse_input(const json& entry, const std::string& where) {
  if (!entry.is_object())
    fail(where + "entry " + json_text(entry) + " is not an object");
  input_ref in;
  bool has_attach = entry.contains("attachId");
  bool has_from = entry.contains("fromStage");
  if (has_attach && has_from)
    fail(where + "has both attachId and fromStage (exactly one is allowed)");
  if (!has_attach && !has_from)
    fail(where + "attachId is missing");
  if (has_attach) {
    in.attach_id = whole_number(entry["attachId"], where, "attachId", 1, max_whole);
  } else {
    auto from = whole_number(entry["fromStage"], where, "fromStage", 0, max_whole);
    // No stage_index exceeds INT_MAX, so a larger value names no stage.
    if (from > INT_MAX)
      fail(where + "fromStage " + std::to_string(from) + " names no stage of this job");
    in.from_stage = static_cast<int>(from);
    if (entry.contains("index")) {
      auto index = whole_number(entry["index"], where, "index", 0, max_whole);
      // Quantities are ints, so a larger index is beyond every stage.
      if (index > INT_MAX)
        fail(where + "index " + std::to_string(index) + " is out of range for stage "
             + std::to_string(from));
      in.from_index = static_cast<int>(index);
    }
  }
  if (!entry.contains("type"))
    fail(where + "type is missing");
  auto& type = entry["type"];
  if (!type.is_string())
    fail(where + "type " + json_text(type) + " is not a string");
  auto& text = type.get_ref<const std::string&>();
  if (text.empty())
    fail(where + "type is empty");
  // The type reaches logs and the model's prompt: a short plain word only.
  if (text.size() > max_type_chars)
    fail(where + "type has " + std::to_string(code_points(text)) + " characters, more than "
         + std::to_string(max_type_chars));
  if (!std::all_of(text.begin(), text.end(), type_char))
    fail(where + "type " + json_text(type)
         + " has a character other than ASCII letters, digits, '_', '-' and space");
  in.type = text;
  return in;
}

/// Parses one stage's prompt, quantity and inputs; stage_index is already known.
stage_spec parse_stage(const json& obj, int stage_index, const job_limits& limits) {
  stage_spec stage;
  stage.stage_index = stage_index;
  auto where = stage_name(stage_index) + ": ";

  if (!obj.contains("prompt"))
    fail(where + "prompt is missing");
  auto& prompt = obj["prompt"];
  if (!prompt.is_string())
    fail(where + "prompt " + json_text(prompt) + " is not a string");
  stage.prompt = prompt.get<std::string>();
  auto chars = code_points(stage.prompt);
  if (chars == 0)
    fail(where + "prompt is empty");
  if (chars > static_cast<size_t>(limits.max_prompt_chars))
    fail(where + "prompt has " + std::to_string(chars) + " characters, more than "
         + std::to_string(limits.max_prompt_chars));

  if (!obj.contains("quantity"))
    fail(where + "quantity is missing");
  stage.quantity = static_cast<int>(
    whole_number(obj["quantity"], where, "quantity", 1, limits.max_quantity));

  // A text-only stage (no input images) may leave the list out.
  if (obj.contains("individualImageAttachIds")) {
    auto& list = obj["individualImageAttachIds"];
    if (!list.is_array())
      fail(where + "individualImageAttachIds " + json_text(list) + " is not an array");
    if (list.size() > static_cast<size_t>(limits.max_inputs))
      fail(where + std::to_string(list.size()) + " inputs, more than "
           + std::to_string(limits.max_inputs));
    for (size_t i = 0; i < list.size(); ++i)
      stage.inputs.push_back(parse_input(
        list[i], stage_name(stage_index) + ", input " + std::to_string(i) + ": "));
  }
  return stage;
}

std::vector<stage_spec> parse_pipeline(const json& root, const job_limits& limits) {
  if (!root.contains("stages"))
    fail("stages is missing");
  auto& stages = root["stages"];
  if (!stages.is_array())
    fail("stages " + json_text(stages) + " is not an array");
  if (stages.empty())
    fail("stages is empty (at least 1 stage is needed)");
  if (stages.size() > static_cast<size_t>(limits.max_stages))
    fail(std::to_string(stages.size()) + " stages, more than "
         + std::to_string(limits.max_stages));

  // Index every stage first, so that errors inside a stage can name it by
  // its stage_index and the array's order does not matter (rule 6).
  std::map<int, size_t> position_of;
  for (size_t pos = 0; pos < stages.size(); ++pos) {
    auto where = "stage at position " + std::to_string(pos) + ": ";
    auto& obj = stages[pos];
    if (!obj.is_object())
      fail("stage at position " + std::to_string(pos) + " is not an object: "
           + json_text(obj));
    if (!obj.contains("stage_index"))
      fail(where + "stage_index is missing");
    auto index = static_cast<int>(
      whole_number(obj["stage_index"], where, "stage_index", 0, INT_MAX));
    auto [it, inserted] = position_of.emplace(index, pos);
    if (!inserted)
      fail("stage_index " + std::to_string(index) + " is used twice (positions "
           + std::to_string(it->second) + " and " + std::to_string(pos) + ")");
  }
  std::vector<stage_spec> result;
  for (auto& [index, pos] : position_of)
    result.push_back(parse_stage(stages[pos], index, limits));
  return result;
}

std::string list_stages(std::vector<int> members) {
  std::sort(members.begin(), members.end());
  std::string text;
  for (size_t i = 0; i < members.size(); ++i) {
    if (i > 0)
      text += (i + 1 == members.size()) ? " and " : ", ";
    text += std::to_string(members[i]);
  }
  return text;
}

/// Finds a cycle reachable from `at`; on finding one, fails naming its stages.
void visit(const job_spec& job, int at, std::map<int, int>& color, std::vector<int>& path) {
  color[at] = 1;
  path.push_back(at);
  for (int dep : job.find_stage(at)->dependencies()) {
    if (color[dep] == 1) {
      std::vector<int> cycle(std::find(path.begin(), path.end(), dep), path.end());
      fail("stages " + list_stages(cycle) + " depend on each other (cycle)");
    }
    if (color[dep] == 0)
      visit(job, dep, color, path);
  }
  path.pop_back();
  color[at] = 2;
}

/// Rule: references name an existing stage, an image it makes, and no cycle.
void check_graph(const job_spec& job) {
  for (auto& stage : job.stages) {
    for (size_t i = 0; i < stage.inputs.size(); ++i) {
      auto& in = stage.inputs[i];
      if (!in.from_stage)
        continue;
      auto where = stage_name(stage.stage_index) + ", input " + std::to_string(i) + ": ";
      auto from = *in.from_stage;
      auto* source = job.find_stage(from);
      if (source == nullptr)
        fail(where + "fromStage " + std::to_string(from) + " names no stage of this job");
      if (from == stage.stage_index)
        fail(where + "fromStage " + std::to_string(from)
             + " names its own stage (cycle)");
      if (in.from_index >= source->quantity)
        fail(where + "index " + std::to_string(in.from_index) + " is out of range 0.."
             + std::to_string(source->quantity - 1) + " of stage "
             + std::to_string(from) + " (quantity " + std::to_string(source->quantity)
             + ")");
    }
  }
  std::map<int, int> color;
  std::vector<int> path;
  for (auto& stage : job.stages)
    if (color[stage.stage_index] == 0)
      visit(job, stage.stage_index, color, path);
}

/// The whole text sent to the model counts against max_prompt_chars, not
/// only the stage prompt: the preamble and one line per input come with it.
void check_built_prompts(const job_spec& job, const module_config* module,
                         const job_limits& limits) {
  if (module == nullptr)
    return;
  for (auto& stage : job.stages) {
    auto chars = code_points(build_prompt(*module, stage));
    if (chars > static_cast<size_t>(limits.max_prompt_chars))
      fail(stage_name(stage.stage_index) + ": the prompt sent to the model has "
           + std::to_string(chars) + " characters (module preamble, input descriptions "
           "and prompt), more than " + std::to_string(limits.max_prompt_chars));
  }
}

std::string aspect_ratio_list() {
  std::string text;
  for (auto* r : aspect_ratios)
    text += (text.empty() ? "" : ", ") + std::string(r);
  return text;
}

job_spec parse(const std::string& job_type, const std::string& input_json,
               const module_catalog& modules, const std::string& queue_module,
               const job_limits& limits) {
  if (job_type != "pipeline_stage" && job_type != "single_batch")
    fail("job_type " + json_text(json(job_type))
         + " is not one of pipeline_stage, single_batch");
  // Before parsing: the text is the customer's, and parsing costs memory
  // and time in proportion to it.
  if (static_cast<int64_t>(input_json.size()) > limits.max_job_input_bytes)
    fail("job_input_data is " + std::to_string(input_json.size())
         + " bytes, more than limits.max_job_input_bytes ("
         + std::to_string(limits.max_job_input_bytes) + ")");
  exact_json document;
  try {
    document = parse_exact_json(input_json);
  } catch (const json::exception&) {
    fail("job_input_data is not valid JSON");
  } catch (const std::length_error&) {
    fail("job_input_data nests arrays and objects deeper than "
         + std::to_string(max_json_depth) + " levels");
  }
  document_scope scope(document);
  const json& root = document.root;
  if (!root.is_object())
    fail("job_input_data " + json_text(root) + " is not a JSON object");

  job_spec job;
  job.job_type = job_type;
  if (root.contains("module")) {
    auto& module = root["module"];
    if (!module.is_string())
      fail("module " + json_text(module) + " is not a string");
    auto name = module.get<std::string>();
    if (modules.find(name) == nullptr)
      fail("module " + json_text(module) + " is not a configured module");
    if (name != queue_module)
      fail("module " + json_text(module) + " does not match the queue's module "
           + json_text(json(queue_module)));
    job.module = name;
  }
  if (root.contains("aspectRatio")) {
    auto& ratio = root["aspectRatio"];
    bool known = ratio.is_string()
                 && std::any_of(std::begin(aspect_ratios), std::end(aspect_ratios),
                                [&](const char* r) { return ratio == r; });
    if (!known)
      fail("aspectRatio " + json_text(ratio) + " is not one of " + aspect_ratio_list());
    job.aspect_ratio = ratio.get<std::string>();
  }
  if (job_type == "single_batch")
    job.stages.push_back(parse_stage(root, 0, limits));
  else
    job.stages = parse_pipeline(root, limits);
  check_graph(job);
  check_built_prompts(job, modules.find(queue_module), limits);
  return job;
}

} // namespace

parse_result parse_job_input(const std::string& job_type,
                             const std::string& input_json,
                             const module_catalog& modules,
                             const std::string& queue_module,
                             const job_limits& limits) {
  try {
    return parse(job_type, input_json, modules, queue_module, limits);
  } catch (const invalid_input& e) {
    return invalid_job{e.message};
  }
}

} // namespace quel
