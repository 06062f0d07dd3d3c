// JSON and YAML writers for render.jsonnet. The standard library's manifestJsonEx and
// manifestYamlDoc escape strings in jsonnet code, a character at a time, which takes Debian's
// jsonnet (0.18, C++) seconds per dashboard; these let the interpreter write each scalar and
// join arrays of lines once. The YAML writer also puts a rule's keys in the order people read
// them (alert or record, expr, for, labels, annotations) rather than sorted.
local order = ['apiVersion', 'kind', 'metadata', 'name', 'interval', 'alert', 'record', 'expr', 'for', 'labels', 'annotations', 'rules'];
local keys(o) =
  local fields = std.objectFields(o);
  [k for k in order if std.objectHas(o, k)] + [k for k in fields if std.count(order, k) == 0];
// A scalar in JSON, by the interpreter's own writer (adding an array to a string writes it in
// C++; std.escapeStringJson walks the string a character at a time).
local scalar(v) =
  local written = '' + [v];
  std.substr(written, 1, std.length(written) - 2);
local pad(n) = std.repeat(' ', n);

{
  // Lines of a JSON value, indented by two spaces a level; `first` prefixes the first line.
  local jsonLines(v, indent, first, last) =
    if std.isObject(v) && std.length(std.objectFields(v)) > 0 then
      local fields = std.objectFields(v);
      [pad(indent) + first + '{']
      + std.flattenArrays([
        jsonLines(v[fields[i]], indent + 2, scalar(fields[i]) + ': ', if i == std.length(fields) - 1 then '' else ',')
        for i in std.range(0, std.length(fields) - 1)
      ])
      + [pad(indent) + '}' + last]
    else if std.isArray(v) && std.length(v) > 0 then
      [pad(indent) + first + '[']
      + std.flattenArrays([
        jsonLines(v[i], indent + 2, '', if i == std.length(v) - 1 then '' else ',')
        for i in std.range(0, std.length(v) - 1)
      ])
      + [pad(indent) + ']' + last]
    else if std.isObject(v) then [pad(indent) + first + '{}' + last]
    else if std.isArray(v) then [pad(indent) + first + '[]' + last]
    else [pad(indent) + first + scalar(v) + last],

  json(v):: std.join('\n', jsonLines(v, 0, '', '')) + '\n',

  // Lines of a YAML value at `indent`: mappings one key a line, sequences of mappings with
  // "- ", multi-line strings as literal blocks (ending in at most one newline, as all of ours
  // do), other scalars in JSON's quoting.
  local yamlLines(v, indent) =
    if std.isObject(v) then
      std.flattenArrays([
        local x = v[k];
        local split = if std.isString(x) then std.split(x, '\n') else [];
        if std.length(split) > 1 then
          // "|" keeps one final newline, "|-" none. The lines leave out the final newline's
          // empty one (std.rstripChars copies the string once per character: seconds on a
          // dashboard).
          local last = std.length(split) - 1;
          local lines = if split[last] == '' then split[:last] else split;
          [pad(indent) + k + (if split[last] == '' then ': |' else ': |-')]
          + [if l == '' then '' else pad(indent + 2) + l for l in lines]
        else if (std.isObject(x) || std.isArray(x)) && std.length(x) > 0 then
          [pad(indent) + k + ':'] + yamlLines(x, indent + 2)
        else if std.isObject(x) then [pad(indent) + k + ': {}']
        else if std.isArray(x) then [pad(indent) + k + ': []']
        else [pad(indent) + k + ': ' + scalar(x)]
        for k in keys(v)
      ])
    else if std.isArray(v) then
      std.flattenArrays([
        local lines = yamlLines(item, indent + 2);
        [pad(indent) + '- ' + std.lstripChars(lines[0], ' ')] + lines[1:]
        for item in v
      ])
    else [pad(indent) + scalar(v)],

  yaml(v):: std.join('\n', yamlLines(v, 0)) + '\n',
}
