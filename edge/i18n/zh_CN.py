# ruff: noqa: E501 - a table of texts: breaking the Chinese lines would only hurt reading them
"""The Simplified Chinese texts, as the source of `locale/zh_CN/LC_MESSAGES/edge.po`.

`scripts/compile_catalogs.py` writes the .po from this table and compiles it to the .mo the box
loads (both committed, so the wheel carries them without a build step). Keys are the English
source texts exactly as the templates and the code write them.
"""

ZH_CN: dict[str, str] = {
    # navigation and frame
    "Overview": "概览", "Review": "回看", "Exports": "导出", "Holds": "保全", "Access register": "访问登记",
    "Filing pack": "备案材料", "Sign out": "退出登录", "Times are in %(zone)s.": "时间均为 %(zone)s。", "Box": "设备",
    # review
    "Review on the box": "设备上回看",
    "Art. 18: footage is looked at only when an officer asks and a second, different person (an approver with "
    "another work credential) approves. A review plays on this box and is never downloaded; every view is "
    "registered.": "第十八条：仅当民警提出申请、并由另一名持不同工作证件的审批人批准后，方可查看录像。回看仅在本设备上播放，"
                   "不可下载；每次查看均予登记。",
    "Request a review": "申请回看", "Request review": "提交回看申请", "Cameras": "摄像机", "From": "起",
    "To": "止", "Purpose": "用途", "Case number": "案件编号", "Approval document (Art. 18)": "审批文书（第十八条）",
    "Approval document": "审批文书", "Number": "文号", "Issued by": "签发单位", "Issued on": "签发日期",
    "An approved review lasts %(hours)s h.": "回看批准后有效 %(hours)s 小时。",
    "Waiting for approval": "待审批", "Range": "时间范围", "Requested by": "申请人", "Approve": "批准",
    "Deny": "拒绝", "Nothing waits for approval.": "没有待审批的申请。", "Reviews": "回看记录", "State": "状态",
    "Decided by": "审批人", "Until": "有效至", "Play": "播放", "Revoke": "撤销", "No reviews yet.": "暂无回看记录。",
    "Not done:": "未完成：", "note (optional)": "备注（可选）", "reason for denying": "拒绝理由",
    "approved by": "批准人", "until": "有效至", "Playback only: nothing here downloads. Every view is registered.":
        "仅供播放：此处不提供下载。每次查看均予登记。",
    "Wall-clock time": "录像时间", "No playable footage in this range.": "该时间范围内没有可播放的录像。",
    "recorded": "已录制", "gap": "中断", "Go to": "跳转到", "Go": "跳转", "Export this span": "导出此时段",
    "recorded spans and gaps; click to seek": "录制时段与中断；点击跳转",
    "Review requested. It now waits for a second person (an approver) to approve it.":
        "回看申请已提交，等待第二人（审批人）批准。",
    "Review approved: its requester and approver may play the range on this box until it ends.":
        "回看已批准：申请人和审批人可在有效期内于本设备上播放该时段。",
    "Review denied; the requester sees the reason.": "回看已拒绝，申请人可看到理由。",
    "Review revoked: nothing more may be played under it.": "回看已撤销，不能再据此播放。",
    "pending": "待审批", "active": "有效", "denied": "已拒绝", "expired": "已过期", "revoked": "已撤销",
    "ended": "已结束", "approved": "已批准",
    # live view
    "Live view": "实时画面", "the current picture, refreshed; nothing recorded": "当前画面，定时刷新；不含录像",
    "Waiting for the next keyframe…": "正在等待下一个关键帧…",
    "Re-commission the reference from the current view": "以当前画面重新设定基准画面",
    "Only after a legitimate, approved re-aim: the current view becomes the yardstick for the \"moved\" check. "
    "Registered as baseline_set.": "仅在经批准的合法调整之后使用：当前画面将作为“移位”检测的基准，并登记为 baseline_set。",
    # register
    "Art. 19(4): who accessed or copied footage, when, for what use and to whom; every refusal too. Append-only "
    "and hash-chained (edge verify detects any edit).": "第十九条第四项：记录谁在何时、为何用途查看或复制录像、提供给谁；"
                                                        "被拒绝的操作同样记录。只可追加、哈希链接（edge verify 可发现任何改动）。",
    "Chain check": "链校验", "intact": "完好", "BROKEN": "已损坏", "entries checked": "条已校验",
    "Download CSV": "下载 CSV", "From day": "起始日期", "To day": "截止日期", "Action": "操作", "any": "全部",
    "User": "用户", "Camera": "摄像机", "Filter": "筛选", "Clear": "清除", "Time": "时间", "Who": "人员",
    "Result": "结果", "Cameras / range": "摄像机 / 时间范围", "Purpose, case, recipient, approval": "用途、案件、接收方、审批",
    "Subject / detail": "对象 / 详情", "No entries match.": "没有符合条件的记录。", "Next entries": "后续记录",
    "ok": "成功", "refused": "拒绝", "yes": "是", "no": "否",
    "reason": "理由", "via": "途径", "kind": "类型", "bytes": "字节", "method": "方式", "path": "路径", "note": "备注",
    # filing pack (HTML and PDF)
    "Filing pack: public security video image system": "备案材料：公共安全视频图像信息系统", "Generated": "生成于",
    "Open points before filing": "备案前待办事项", "Box id": "设备编号", "Name": "名称", "Site": "场所", "Operator": "运营单位",
    "Software": "软件", "Site category (Art. 9)": "场所类别（第九条）", "Location / coverage": "位置 / 覆盖范围",
    "Signage": "标识", "Signage (Art. 10)": "标识（第十条）", "Enabled": "启用", "Resolution": "分辨率", "Codec": "编码",
    "Bitrate": "码率", "Reference view": "基准画面", "disabled": "已停用", "confirmed": "已确认", "NOT confirmed": "未确认",
    "not recorded yet": "尚未录制", "set": "设定于", "by": "设定人", "automatic": "自动", "not commissioned yet": "尚未设定",
    "Site categories": "场所类别", "Storage and retention (Art. 19(8))": "存储与保存期限（第十九条第八项）",
    "Forecast": "预计", "unlimited": "不限", "days": "天", "floor": "最低要求", "holds kept": "保全保存",
    "Device signing key": "设备签名密钥", "Device signing key (verifies exported footage)": "设备签名密钥（用于验证导出的录像）",
    "Exports from this box are signed with this Ed25519 key; record its fingerprint to verify them.":
        "本设备导出的录像均以此 Ed25519 密钥签名；请记录其指纹以便核验。",
    "Fingerprint": "指纹", "Algorithm": "算法",
    # sign-in and refusals
    "Sign in": "登录", "User name": "用户名", "Password": "密码", "or": "或", "API token": "API 令牌",
    "Accounts are made at the box with edge user add (add --password for a password). Every sign-in failure is registered.":
        "账号在设备上以 edge user add 创建（加 --password 设置密码）。每次登录失败均予登记。",
    "Not available": "无法访问", "Not for your role": "您的角色无此权限", "Not found": "未找到",
    "Cannot do this now": "当前无法执行", "Back to the overview": "返回概览",
    # overview and camera page
    "All cameras recording, all monitored rules met": "所有摄像机正在录像，各项监测要求均已满足",
    "Attention needed": "需要处理", "Storage": "存储", "no snapshot yet": "暂无快照", "No active alarms.": "无活动告警。",
    "Page built at": "页面生成于", "Alarm events (24 h)": "告警事件（24 小时）",
    "View check (Art. 20(2): position, angle and scope unchanged)": "画面检查（第二十条第二项：位置、角度和范围不变）",
}
