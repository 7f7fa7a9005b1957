"""Reading a plan's YAML safely: every problem becomes a Chinese sentence naming the line.

Plans come from the policy folder and, as drafts, from callers of the simulation API, so the
text may be anything: complex keys (a list or mapping used as a key), keys written twice, tags
YAML's safe loader does not know, binary or set values, impossible dates, aliases that refer to
themselves or expand to millions of nodes. None of these may escape as anything but a
problem list (PolicyFileError), which the API answers as 422.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import yaml
from pydantic import ValidationError

MAX_NODES = 200_000  # after alias expansion; a real plan has a few thousand

_YAML_PROBLEMS_ZH = {
    "mapping values are not allowed here": "此处不允许出现“键: 值”",
    "found character '\\t' that cannot start any token": "不能用制表符（Tab）缩进",
    "could not find expected ':'": "缺少“:”",
    "expected <block end>, but found": "缩进不一致",
    "did not find expected key": "缩进不一致或缺少键",
    "found undefined alias": "引用了未定义的锚点（alias）",
    "found unhashable key": "复杂键（列表或映射作键）不允许",
    "expected the node content, but found '<stream end>'": "内容意外结束（括号未闭合？）",
    "could not determine a constructor for the tag": "不支持的 YAML 标签",
    "found unexpected end of stream": "内容意外结束（引号或括号未闭合？）",
    "while scanning a quoted scalar": "引号未闭合",
}


class YamlProblem(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _where(mark: Any) -> str:
    if mark is None:
        return ""
    return f"第{mark.line + 1}行第{mark.column + 1}列："


def _zh(problem: str | None) -> str:
    text = problem or ""
    for en, zh in _YAML_PROBLEMS_ZH.items():
        if text.startswith(en) or en in text:
            return f"{zh}（{text}）"
    return f"YAML 格式错误（{text}）" if text else "YAML 格式错误"


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses complex keys, keys written twice and impossible dates, each with
    the line they are on."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[object] = set()
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise YamlProblem(
                f"{_where(key_node.start_mark)}不允许复杂键（列表或映射作为键），键必须是简单的名称"
            )
        key = loader.construct_object(key_node, deep=deep)
        try:
            repeated = key in seen
        except TypeError:  # an unhashable scalar key (binary, ...)
            raise YamlProblem(f"{_where(key_node.start_mark)}键必须是简单的名称") from None
        if repeated:
            raise YamlProblem(f"{_where(key_node.start_mark)}键 {key!r} 写了两次")
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


def _construct_timestamp(loader: _Loader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError):
        raise YamlProblem(
            f"{_where(node.start_mark)}日期 {node.value!r} 不存在（年、月、日超出范围）"
        ) from None


def _refuse(kind: str):  # type: ignore[no-untyped-def]
    def construct(loader: _Loader, node: yaml.Node) -> Any:
        raise YamlProblem(f"{_where(node.start_mark)}方案中不能使用{kind}")

    return construct


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
_Loader.add_constructor("tag:yaml.org,2002:binary", _refuse("二进制值（!!binary）"))
_Loader.add_constructor("tag:yaml.org,2002:set", _refuse("集合（!!set）"))
_Loader.add_constructor("tag:yaml.org,2002:omap", _refuse("有序映射（!!omap）"))
_Loader.add_constructor("tag:yaml.org,2002:pairs", _refuse("键值对列表（!!pairs）"))


def _count_nodes(node: yaml.Node) -> None:
    """Refuse aliases that refer to themselves or expand beyond MAX_NODES."""
    count = 0
    stack: list[tuple[yaml.Node, tuple[int, ...]]] = [(node, ())]
    while stack:
        current, path = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise YamlProblem(
                f"{_where(current.start_mark)}内容过大（展开引用后超过 {MAX_NODES} 个节点）"
            )
        if id(current) in path:
            raise YamlProblem(f"{_where(current.start_mark)}引用（alias）指向了自身")
        if isinstance(current, yaml.SequenceNode):
            children = current.value
        elif isinstance(current, yaml.MappingNode):
            children = [n for pair in current.value for n in pair]
        else:
            continue
        inner = (*path, id(current))
        stack.extend((c, inner) for c in children)


def load_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    """(the parsed content, its node tree for line numbers); YamlProblem on anything wrong."""
    try:
        node = yaml.compose(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        raise YamlProblem(f"{_where(exc.problem_mark)}{_zh(exc.problem)}") from None
    except yaml.YAMLError as exc:
        raise YamlProblem(_zh(str(exc))) from None
    if node is None:
        return None, None
    _count_nodes(node)
    loader = _Loader("")
    try:
        data = loader.construct_document(node)
    except YamlProblem:
        raise
    except yaml.MarkedYAMLError as exc:
        raise YamlProblem(f"{_where(exc.problem_mark)}{_zh(exc.problem)}") from None
    except (yaml.YAMLError, TypeError, ValueError, RecursionError) as exc:
        raise YamlProblem(_zh(str(exc))) from None
    finally:
        loader.dispose()
    return data, node


def _node_at(node: yaml.Node | None, loc: tuple[int | str, ...]) -> yaml.Node | None:
    """The node the validation error location points at, as deep as it can be followed."""
    found = node
    for part in loc:
        if isinstance(found, yaml.MappingNode) and isinstance(part, str):
            nxt = next((v for k, v in found.value
                        if isinstance(k, yaml.ScalarNode) and k.value == part), None)
        elif isinstance(found, yaml.SequenceNode) and isinstance(part, int):
            nxt = found.value[part] if 0 <= part < len(found.value) else None
        else:
            nxt = None
        if nxt is None:
            break
        found = nxt
    return found


def format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


_PYDANTIC_ZH = {
    "missing": "缺少必填项",
    "extra_forbidden": "不认识的字段（拼写错误？）",
    "string_type": "应为文字",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "date_type": "应为日期（YYYY-MM-DD）",
    "date_parsing": "应为日期（YYYY-MM-DD）",
    "date_from_datetime_parsing": "应为日期（YYYY-MM-DD）",
    "list_type": "应为列表",
    "dict_type": "应为映射（键: 值）",
    "model_type": "应为映射（键: 值）",
    "literal_error": "取值不在允许的范围内",
    "string_pattern_mismatch": "格式不对",
    "string_too_short": "太短",
    "too_short": "项数太少",
    "too_long": "项数太多",
    "greater_than_equal": "数值太小",
    "less_than_equal": "数值太大",
    "value_error": "取值不合理",
}


def validation_problems(exc: ValidationError, node: yaml.Node | None) -> list[str]:
    """One Chinese line per pydantic error: the YAML line (when known), the field, the reason
    (the validator's own words follow in brackets)."""
    out = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        at = _node_at(node, loc) if node is not None else None
        where = f"第{at.start_mark.line + 1}行，" if at is not None else ""
        zh = _PYDANTIC_ZH.get(err["type"], "不符合方案格式")
        out.append(f"{where}{format_loc(loc)}：{zh}（{err['msg']}）")
    return out


def plain_data(data: Any) -> None:
    """Refuse values a plan's content (stored as JSON, hashed as its version) cannot hold."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for key in value:
                if not isinstance(key, str):
                    raise YamlProblem(f"键 {key!r} 必须是文字（加引号）")
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif not isinstance(value, (str, int, float, bool, dt.date, type(None))):
            raise YamlProblem(f"方案中不能使用 {type(value).__name__} 类型的值")
