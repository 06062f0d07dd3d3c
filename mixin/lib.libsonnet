// Panel builders of the bundle's dashboards: every panel gets the same datasource, units,
// descriptions and layout rules.
{
  ds:: { type: 'prometheus', uid: '${datasource}' },

  target(expr, legend='', ref='A', instant=false, format=null)::
    { datasource: $.ds, refId: ref, expr: expr, legendFormat: if legend == '' then '__auto' else legend }
    + (if instant then { instant: true, range: false } else {})
    + (if format != null then { format: format } else {}),

  timeseries(title, description, unit, targets, stack=false):: {
    type: 'timeseries',
    title: title,
    description: description,
    datasource: $.ds,
    fieldConfig: {
      defaults: {
        unit: unit,
        custom: {
          drawStyle: 'line',
          lineWidth: 1,
          fillOpacity: 10,
          spanNulls: true,
          stacking: { mode: if stack then 'normal' else 'none', group: 'A' },
        },
      },
      overrides: [],
    },
    options: {
      legend: { displayMode: 'table', placement: 'bottom', calcs: ['lastNotNull', 'max'] },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
    targets: targets,
  },

  stat(title, description, unit, targets, thresholds=null):: {
    type: 'stat',
    title: title,
    description: description,
    datasource: $.ds,
    fieldConfig: {
      defaults: {
        unit: unit,
        thresholds: {
          mode: 'absolute',
          steps: if thresholds == null then [{ color: 'green', value: null }] else thresholds,
        },
      },
      overrides: [],
    },
    options: {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      colorMode: 'value',
      graphMode: 'area',
      textMode: 'auto',
    },
    targets: targets,
  },

  // A stat that shows which DORA performance level a value falls in: `ranges` are
  // [from, to, level] with null for an open end.
  level(title, description, expr, ranges)::
    local colors = { elite: 'green', high: 'blue', medium: 'orange', low: 'red' };
    $.stat(title, description, 'none', [$.target(expr, 'level', instant=true)]) + {
      fieldConfig+: {
        defaults+: {
          mappings: [
            {
              type: 'range',
              options: {
                from: ranges[i][0],
                to: ranges[i][1],
                result: { text: ranges[i][2], color: colors[ranges[i][2]], index: i },
              },
            }
            for i in std.range(0, std.length(ranges) - 1)
          ],
        },
      },
      options+: { colorMode: 'background', graphMode: 'none' },
    },

  table(title, description, targets, overrides, organize):: {
    type: 'table',
    title: title,
    description: description,
    datasource: $.ds,
    fieldConfig: { defaults: { unit: 'short' }, overrides: overrides },
    options: { showHeader: true, cellHeight: 'sm' },
    targets: targets,
    transformations: [
      { id: 'merge', options: {} },
      { id: 'organize', options: organize },
    ],
  },

  unitOverride(column, unit, extra=[]):: {
    matcher: { id: 'byName', options: column },
    properties: [{ id: 'unit', value: unit }] + extra,
  },

  // The console page of an environment, from the organization name platformsh_project_info gives.
  consoleLink:: {
    id: 'links',
    value: [
      {
        title: 'Open in the Platform.sh console',
        url: '${console}/${__data.fields.organization}/${__data.fields.project}/${__data.fields.environment}',
        targetBlank: true,
      },
    ],
  },

  // Entries of a dashboard's layout: a row, or a panel `w` columns wide and `h` high.
  row(title):: { row: title },
  panel(panel, w, h):: { panel: panel, w: w, h: h },

  // Places the entries left to right, 24 columns wide, wrapping to a new line of panels when
  // one does not fit; a row starts a new line. Ids count up from 1.
  layout(entries)::
    local add(s, panel, w, h) =
      local wrap = s.x + w > 24;
      local x = if wrap then 0 else s.x;
      local y = if wrap then s.y + s.rowH else s.y;
      local rowH = if wrap then 0 else s.rowH;
      {
        x: x + w,
        y: y,
        rowH: std.max(rowH, h),
        id: s.id + 1,
        panels: s.panels + [panel { id: s.id, gridPos: { h: h, w: w, x: x, y: y } }],
      };
    local step(s, e) =
      if std.objectHas(e, 'row') then
        local placed = add(s { x: 0, y: s.y + s.rowH, rowH: 0 }, { type: 'row', title: e.row, collapsed: false, panels: [] }, 24, 1);
        placed { x: 0, y: placed.y + 1, rowH: 0 }
      else add(s, e.panel, e.w, e.h);
    std.foldl(step, entries, { x: 0, y: 0, rowH: 0, id: 1, panels: [] }).panels,
}
