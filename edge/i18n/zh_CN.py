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

ZH_CN.update({
    # exports page
    "Art. 18: footage leaves the box only when an officer requests it and a second, different person (an approver with another work credential) approves it. Every step is registered.":
        "第十八条：仅当民警提出申请、并由另一名持不同工作证件的审批人批准后，录像方可导出设备。每一步均予登记。",
    "Request an export": "申请导出", "Request export": "提交导出申请", "At most %(hours)s h per request.": "每次申请最长 %(hours)s 小时。",
    "Purpose (for what use)": "用途（作何使用）", "Recipient (person)": "接收人", "Recipient unit": "接收单位",
    "SHA-256 of the scan (optional)": "扫描件的 SHA-256（可选）",
    "Footage handed to police: hold it for the statutory period (2 years)": "录像移交公安机关：按法定期限（2 年）保全",
    "Export #%(id)s": "导出 #%(id)s", "Case": "案件", "Recipient": "接收方",
    "%(number)s, issued by %(by)s on %(on)s": "%(number)s，%(by)s 于 %(on)s 签发",
    "%(name)s (%(cred)s) at %(at)s": "%(name)s（%(cred)s），%(at)s", "Hold": "保全", "yes, 2 years": "是，2 年",
    "Approve #%(id)s": "批准 #%(id)s", "Deny #%(id)s": "拒绝 #%(id)s", "Recent exports": "最近的导出", "Bundle": "导出包",
    "Download bundle": "下载导出包", "only its requester and approver may download": "仅申请人和审批人可下载",
    "No exports yet.": "暂无导出记录。", "Producing a bundle takes a moment: reload to see its state.": "生成导出包需要一些时间：请刷新页面查看状态。",
    "Export requested. It now waits for a second person (an approver) to approve it.": "导出申请已提交，等待第二人（审批人）批准。",
    "Export approved. The bundle is being produced; its download link appears here when ready.": "导出已批准，正在生成导出包；完成后此处将出现下载链接。",
    "Export denied; the requester sees the reason.": "导出已拒绝，申请人可看到理由。",
    # holds page
    "Art. 19(8): footage important to public safety is kept at least 2 years (%(days)s days here). Held footage is never deleted by retention.":
        "第十九条第八项：涉及公共安全的重要录像至少保存 2 年（本设备为 %(days)s 天）。保全的录像不会因保存期限到期而删除。",
    "Releasing a hold early needs two persons: an officer asks, a different approver decides (here, the API or edge hold release).":
        "提前解除保全需两人：民警提出申请，另一名审批人决定（可在此页、通过 API 或以 edge hold release 办理）。",
    "Hold footage": "保全录像", "every camera": "全部摄像机", "Reason": "理由", "Create hold": "创建保全", "All holds": "全部保全",
    "Holds in force": "生效中的保全", "Show holds in force only": "仅显示生效中的保全", "Show released and expired holds too": "同时显示已解除和已到期的保全",
    "Created": "创建", "Expires": "到期", "in force": "生效中", "released by %(who)s": "已由 %(who)s 解除",
    "release requested by %(who)s: %(reason)s (document %(doc)s)": "%(who)s 申请解除：%(reason)s（文书 %(doc)s）",
    "Approve release #%(id)s": "批准解除 #%(id)s", "Deny release #%(id)s": "拒绝解除 #%(id)s", "Ask to release early": "申请提前解除",
    "Approval document number": "审批文书文号", "Ask to release hold #%(id)s": "申请解除保全 #%(id)s", "No holds.": "暂无保全。",
    "Hold created: this footage is kept for the statutory period.": "保全已创建：该录像将按法定期限保存。",
    "Release requested. It now waits for a second person (an approver) to approve it.": "解除申请已提交，等待第二人（审批人）批准。",
    "Hold released.": "保全已解除。", "Release denied.": "解除申请已拒绝。",
    # camera page and overview
    "last segment": "最近片段", "%(h)s h": "%(h)s 小时", "Last %(hours)s h": "最近 %(hours)s 小时", "recorded spans, gaps and alarms": "录制时段、中断与告警",
    "now": "现在", "recorded (%(pct)s %% of %(hours)s h)": "已录制（%(hours)s 小时中的 %(pct)s %%）", "alarm": "告警",
    "Gaps and their reasons": "中断及其原因", "Seconds": "秒", "ongoing": "持续中", "Commissioned reference": "设定的基准画面",
    "set %(at)s by %(who)s": "%(at)s 由 %(who)s 设定", "reference view": "基准画面",
    "no reference yet: taken at the first healthy sample": "尚无基准画面：将取第一个正常的采样", "Current snapshot": "当前快照",
    "latest snapshot": "最新快照", "picture hidden: pictures are for %(roles)s only": "画面已隐藏：仅 %(roles)s 可查看画面",
    "snapshot hidden: pictures are for %(roles)s only": "快照已隐藏：仅 %(roles)s 可查看画面", "Last image check": "最近一次图像检查",
    "no fault": "无故障", "Event": "事件", "Alarm": "告警代码", "Message": "告警", "None.": "无。",
    "Reference view re-commissioned from the current snapshot and registered (baseline_set).": "已以当前快照重新设定基准画面并登记（baseline_set）。",
    "Footage held: <strong>%(held)s days</strong>, floor <strong>%(floor)s days</strong>,": "已存录像：<strong>%(held)s 天</strong>，最低要求 <strong>%(floor)s 天</strong>，",
    "forecast <strong>%(days)s days</strong>": "预计 <strong>%(days)s 天</strong>", "forecast <strong>unknown</strong>": "预计 <strong>未知</strong>",
    "Disk %(pct)s %% used (%(free)s free of %(total)s); footage %(footage)s": "磁盘已用 %(pct)s %%（共 %(total)s，可用 %(free)s）；录像 %(footage)s",
    "%(n)s hold(s) in force": "%(n)s 项保全生效中", "The disk cannot hold the %(days)s-day floor at current rates.": "按当前码率，磁盘无法满足 %(days)s 天的最低保存要求。",
    "Last segment:": "最近片段：", "%(s)s s ago": "%(s)s 秒前",
    # states, roles, alarms, gap reasons, events
    "recording": "录像中", "reconnecting": "重新连接中", "offline": "离线", "paused": "已暂停", "unknown": "未知",
    "producing": "生成中", "ready": "已就绪", "failed": "失败", "snapshot": "快照", "reference": "基准画面",
    "maintainer": "维护人员", "monitor": "值守人员", "officer": "民警", "approver": "审批人", "auditor": "审计人员",
    "camera offline": "摄像机离线", "stream stalled": "视频流停滞", "recording paused": "录像已暂停", "picture too dark": "画面过暗",
    "picture overexposed": "画面过曝", "lens covered": "镜头被遮挡", "picture blurred": "画面模糊", "picture frozen": "画面冻结",
    "view differs from its commissioned reference (moved or re-aimed; report it, Art. 19(5))": "画面与设定的基准画面不一致（被移动或调整角度；请按第十九条第五项报告）",
    "the store cannot hold the retention floor at current rates": "按当前码率，存储无法满足最低保存期限",
    "disk full: recording paused": "磁盘已满：录像已暂停", "footage younger than the floor is at risk": "未满最低保存期限的录像面临被删除的风险",
    "footage younger than the floor was deleted": "未满最低保存期限的录像已被删除", "disk error": "磁盘错误",
    "recovered after an unclean stop": "非正常停止后已恢复", "off-box copy is behind": "异地备份滞后", "the system clock stepped": "系统时钟发生跳变",
    "the system clock is not synchronised": "系统时钟未同步", "a stored segment no longer matches its hash": "存储的片段与其哈希值不符",
    "signed checkpoint failed": "签名检查点失败", "trusted timestamp failed": "可信时间戳失败", "camera clock off the recorder's": "摄像机时钟与录像机不一致",
    "the recorder is not running: no camera is being recorded": "录像程序未运行：没有摄像机在录像",
    "not recorded": "未录制", "camera did not answer": "摄像机无响应", "bad data": "数据损坏", "camera refused the credentials": "摄像机拒绝了凭据",
    "stream not found": "找不到视频流", "stream ended": "视频流结束", "unsupported stream": "不支持的视频流", "recorder stopped": "录像程序停止",
    "disk full": "磁盘已满", "segment altered": "片段被篡改", "deleted": "已删除", "clock stepped": "时钟跳变", "connection lost": "连接中断",
    "connection refused": "连接被拒绝", "raised": "触发", "cleared": "解除",
    # result and refusal messages (domain and pages)
    "request": "申请", "export": "导出", "export request": "导出申请", "review": "回看", "review request": "回看申请", "hold": "保全",
    "hold request": "保全申请", "release request": "解除申请",
    "no %(noun)s %(id)s": "不存在编号为 %(id)s 的%(noun)s", "%(noun)s %(id)s is %(state)s, not pending": "%(noun)s %(id)s 的状态为“%(state)s”，不是待审批",
    "%(noun)s %(id)s is no longer pending": "%(noun)s %(id)s 已不是待审批状态",
    "%(user)s already has %(count)s pending %(noun)s(s), the most allowed (%(setting)s); wait for a decision first":
        "%(user)s 已有 %(count)s 项待审批的%(noun)s，已达上限（%(setting)s）；请等待审批结果",
    "%(what)s is not for your role (%(role)s). It is for: %(who)s.": "您的角色（%(role)s）不能使用“%(what)s”。可使用的角色：%(who)s。",
    "role '%(role)s' may not approve": "角色“%(role)s”无审批权限",
    "a request cannot be approved by the user who made it (Art. 18: at least two persons)": "申请不能由申请人本人批准（第十八条：至少两人）",
    "the approver holds the same work credential as the requester: one person cannot approve their own request under a second account (Art. 18)":
        "审批人与申请人持有相同的工作证件：同一人不能以另一个账号批准自己的申请（第十八条）",
    "unknown camera '%(camera)s'": "未知的摄像机“%(camera)s”",
    "the range is longer than the maximum of %(hours)s h ([access] max_export_hours); split the request": "时间范围超过最长 %(hours)s 小时（[access] max_export_hours）；请拆分申请",
    "end is in the future: only recorded footage can be exported": "结束时间在未来：只能导出已录制的录像",
    "end is in the future: only recorded footage can be reviewed": "结束时间在未来：只能回看已录制的录像",
    "choose at least one camera": "请至少选择一台摄像机", "end must be after start": "结束时间必须晚于开始时间",
    "holds are not available on this box": "本设备不支持保全", "export %(id)s is %(state)s: there is nothing to download": "导出 %(id)s 的状态为“%(state)s”：没有可下载的内容",
    "only the requester or the approver of this export may download it": "仅该导出的申请人或审批人可以下载",
    "only the requester and the approver of this grant may view under it": "仅该回看的申请人和审批人可以查看",
    "only the two persons of this grant or an approver may revoke it": "仅该回看的两名当事人或审批人可以撤销",
    "review %(id)s is %(state)s, not active": "回看 %(id)s 的状态为“%(state)s”，不是有效状态",
    "review %(id)s is %(state)s: nothing may be shown under it": "回看 %(id)s 的状态为“%(state)s”：不能据此显示任何录像",
    "camera '%(camera)s' is not part of review %(id)s": "摄像机“%(camera)s”不在回看 %(id)s 的范围内",
    "hold %(id)s is not in force": "保全 %(id)s 未生效", "hold %(id)s already has a pending release request": "保全 %(id)s 已有待审批的解除申请",
    "hold %(id)s has no pending release request": "保全 %(id)s 没有待审批的解除申请", "no hold #%(id)s": "不存在保全 #%(id)s",
    "hold #%(id)s was already released": "保全 #%(id)s 已被解除", "the hold's end must be after its start": "保全的结束时间必须晚于开始时间",
    "a hold needs a reason": "保全需要填写理由", "a hold needs a case number": "保全需要填写案件编号", "a hold needs a reason and a case number": "保全需要填写理由和案件编号",
    "a hold needs the name of who created it": "保全需要填写创建人", "camera must be an id or None (all cameras)": "摄像机必须是编号或留空（全部摄像机）",
    "a release needs the name of who released it": "解除需要填写解除人",
    "end is more than %(hours)s h after now ([retention] max_hold_future_hours): a hold covers recorded footage or a bounded window of footage still to come":
        "结束时间晚于现在超过 %(hours)s 小时（[retention] max_hold_future_hours）：保全只覆盖已录制的录像或有限的未来时段",
    "a hold of every camera that reaches past now is open-ended and needs the two-person rule (Art. 18): ask for it with POST /api/v1/hold-requests (a second person approves), or hold each camera concerned":
        "延伸到现在之后的全部摄像机保全没有终点，须经两人审批（第十八条）：请通过 POST /api/v1/hold-requests 申请（由第二人批准），或对相关摄像机逐一保全",
    "There is no camera '%(camera)s' on this box.": "本设备上没有摄像机“%(camera)s”。", "Camera %(camera)s has no %(kind)s yet.": "摄像机 %(camera)s 暂无%(kind)s。",
    "Camera %(camera)s is not recording: its current view cannot be commissioned.": "摄像机 %(camera)s 未在录像：无法以其当前画面设定基准画面。",
    "Camera %(camera)s has no current snapshot (none sampled in the last %(seconds)s s); wait for the next image-health sample and try again.":
        "摄像机 %(camera)s 没有当前快照（最近 %(seconds)s 秒内无采样）；请等待下一次图像检查采样后重试。",
    "The snapshot of camera %(camera)s could not be read; try again.": "无法读取摄像机 %(camera)s 的快照；请重试。",
    "Camera %(camera)s has no playable footage in review %(id)s.": "回看 %(id)s 中摄像机 %(camera)s 没有可播放的录像。",
    "start_us and end_us must be whole microseconds": "start_us 和 end_us 必须是整数微秒",
    "This form did not come from this box's page or has expired (CSRF token missing or wrong). Reload the page and try again.":
        "此表单不是来自本设备的页面或已过期（CSRF 令牌缺失或错误）。请刷新页面后重试。",
    "This login form did not come from this box's page or has expired. Reload the page and try again.": "此登录表单不是来自本设备的页面或已过期。请刷新页面后重试。",
    "Too many failed sign-ins from this address. Wait a minute and try again.": "该地址登录失败次数过多。请等待一分钟后重试。",
    "Enter your API token, or your user name and password.": "请输入 API 令牌，或用户名和密码。",
    "Sign-in failed: wrong token, or wrong user name or password (or the account is disabled).": "登录失败：令牌错误，或用户名、密码错误（或账号已停用）。",
    # what a role refusal names
    "The exports page": "导出页面", "The holds page": "保全页面", "The access register": "访问登记", "The live view": "实时画面",
    "Requesting an export": "申请导出", "Approving an export": "批准导出", "Denying an export": "拒绝导出", "Creating a hold": "创建保全",
    "Asking to release a hold": "申请解除保全", "Approving a hold release": "批准解除保全", "Denying a hold release": "拒绝解除保全",
    "Requesting a review": "申请回看", "Approving a review": "批准回看", "Denying a review": "拒绝回看", "Revoking a review": "撤销回看",
    "Playing recorded footage": "播放录像", "Seeing camera pictures": "查看摄像机画面", "Re-commissioning a camera's reference view": "重新设定摄像机基准画面",
    # form rules (pydantic's and the schemas')
    "required": "必填", "must not be empty": "不能为空", "is too long": "过长", "has the wrong form": "格式不正确", "is not a time": "不是有效的时间",
    "is not a date": "不是有效的日期", "choose at least one": "请至少选择一项", "is not a whole number": "不是整数",
    "start must be before end": "开始时间必须早于结束时间", "cameras must not repeat": "摄像机不能重复",
    "must be valid Unicode text (no lone surrogates)": "必须是有效的 Unicode 文本", "must not contain NUL characters": "不能包含 NUL 字符",
    "is not a camera id ([a-z0-9-]+)": "不是有效的摄像机编号（[a-z0-9-]+）",
})

ZH_CN.update({
    # the filing pack's sentences (HTML and PDF; the JSON keeps the English)
    "Filing pack of a public security video image system (Art. 15: filed with the police within 30 days of commissioning)":
        "公共安全视频图像信息系统备案材料（第十五条：自系统投入使用之日起 30 日内向公安机关备案）",
    "Download PDF": "下载 PDF", "Download JSON": "下载 JSON", "reference pictures are left out for your role": "您的角色不显示基准画面",
    "measured": "实测", "expected_bitrate (no footage yet)": "按 expected_bitrate 估算（尚无录像）",
    "expected_bitrate of each camera (no footage measured yet)": "按各摄像机的 expected_bitrate 估算（尚未实测录像）",
    "measured over the last %(hours)s h for %(n)s of %(total)s camera(s)": "按最近 %(hours)s 小时实测（%(total)s 台摄像机中的 %(n)s 台）",
    "measured over the last %(hours)s h for %(n)s of %(total)s camera(s), expected_bitrate for the rest":
        "按最近 %(hours)s 小时实测（%(total)s 台摄像机中的 %(n)s 台），其余按 expected_bitrate 估算",
    "Recording rate: %(rate)s per day for all enabled cameras (%(source)s).": "录像速率：所有启用的摄像机每天 %(rate)s（%(source)s）。",
    "Space footage may use: %(capacity)s (volume %(volume)s up to the %(watermark)s watermark, less %(other)s of other files on the volume and %(reserve)s reserved for the index and logs%(quota)s).":
        "录像可用空间：%(capacity)s（卷容量 %(volume)s，至 %(watermark)s 水位，扣除卷上其他文件 %(other)s 及为索引和日志预留的 %(reserve)s%(quota)s）。",
    ", quota %(quota)s": "，配额 %(quota)s", "%(days)s days": "%(days)s 天", "unlimited (no camera enabled)": "不限（没有启用的摄像机）",
    "Forecast: %(days)s of footage; the law's floor is %(floor)s days (Art. 19(8)) -> %(verdict)s":
        "预计可保存 %(days)s 的录像；法定最低保存期限为 %(floor)s 天（第十九条第八项）→ %(verdict)s",
    "MEETS the floor.": "满足最低要求。", "DOES NOT meet the floor.": "不满足最低要求。",
    "Holds: %(n)s in force keep %(held)s for %(days)s days (at least 2 years, Art. 19(8)); the ring buffer can use %(ring)s%(after)s -> the %(floor)s-day floor is %(state)s":
        "保全：%(n)s 项生效中，保存 %(held)s，期限 %(days)s 天（至少 2 年，第十九条第八项）；循环存储可用 %(ring)s%(after)s → %(floor)s 天的最低保存期限%(state)s",
    ", %(days)s days at current rates": "，按当前码率可保存 %(days)s 天", "kept.": "可以满足。", "AT RISK.": "面临风险。",
    "When the disk is full: %(on_full)s (protect_floor: recording pauses rather than delete footage younger than the floor).":
        "磁盘已满时：%(on_full)s（protect_floor：暂停录像，而不删除未满最低保存期限的录像）。",
    "Camera %(camera)s: signage not confirmed (Art. 10: a sign must mark the camera and its coverage); set `signage = true` once it is up.":
        "摄像机 %(camera)s：未确认设置标识（第十条：应设置标识标明摄像机及其覆盖范围）；设置后请配置 `signage = true`。",
    "Camera %(camera)s: no location/coverage note (`location` in the configuration).": "摄像机 %(camera)s：未填写位置/覆盖范围说明（配置中的 `location`）。",
    "Camera %(camera)s: no commissioned reference view yet (Art. 20(2)); it is taken at the first healthy sample once the camera records.":
        "摄像机 %(camera)s：尚未设定基准画面（第二十条第二项）；摄像机开始录像后将取第一个正常采样。",
    "Storage: %(days)s days forecast, under the %(floor)s-day floor (Art. 19(8)): add disk or lower bitrates before filing.":
        "存储：预计 %(days)s 天，低于 %(floor)s 天的最低保存期限（第十九条第八项）：备案前请增加磁盘或降低码率。",
    "Storage: with the footage the holds keep, the floor cannot be kept (Art. 19(8)).": "存储：加上保全的录像后，无法满足最低保存期限（第十九条第八项）。",
})

ZH_CN.update({
    # the access register
    "access refused": "访问被拒绝", "sign-in or token refused": "登录或令牌被拒绝", "reference view set": "设定基准画面",
    "configuration reloaded": "重新加载配置", "export approved": "批准导出", "export denied": "拒绝导出", "export downloaded": "下载导出",
    "export request expired": "导出申请过期", "export produced": "生成导出", "export requested": "申请导出", "export viewed": "查看导出",
    "footage under the floor deleted": "删除了未满最低期限的录像", "GB28181 download": "GB28181 下载", "GB28181 live view": "GB28181 实时画面",
    "GB28181 playback": "GB28181 回放", "hold created": "创建保全", "hold expired": "保全到期", "hold release approved": "批准解除保全",
    "hold release denied": "拒绝解除保全", "hold release requested": "申请解除保全", "live view": "实时画面", "maintenance": "维护",
    "copied off the box": "复制到设备外", "register downloaded": "下载登记", "deleted by retention": "按保存期限删除",
    "review approved": "批准回看", "review denied": "拒绝回看", "review request expired": "回看申请过期", "review requested": "申请回看",
    "review revoked": "撤销回看", "footage reviewed": "回看录像", "signed in": "登录", "signed out": "退出登录", "picture viewed": "查看画面",
    "token replaced": "更换令牌", "user added": "添加用户", "user disabled": "停用用户", "user enabled": "启用用户",
    "all-camera hold approved": "批准全部摄像机保全", "all-camera hold denied": "拒绝全部摄像机保全", "all-camera hold requested": "申请全部摄像机保全",
    "case": "案件", "to": "提供给", "document": "文书",
    "code": "代码", "count": "次数", "window start": "时段开始", "window seconds": "时段秒数", "reasons": "理由", "requests": "请求",
    "user": "用户", "what": "内容", "problems": "问题", "granted until us": "有效至", "expires us": "到期", "manifest sha256": "清单 SHA-256",
    "gaps": "中断", "requested by": "申请人", "segment": "片段", "seq": "序号", "start us": "开始", "end us": "结束", "set us": "设定时间",
    "camera": "摄像机", "source": "来源", "error": "错误", "width": "宽度", "height": "高度", "metrics": "指标",
    "hold id": "保全编号", "created by": "创建人", "all cameras": "全部摄像机",
    # the API's own refusals
    "authentication required: send 'Authorization: Bearer TOKEN'": "需要认证：请发送 'Authorization: Bearer TOKEN'",
    "invalid or revoked token": "令牌无效或已撤销", "role '%(role)s' may not do this": "角色“%(role)s”无权执行此操作",
    "the bundle of export %(id)s is no longer on this box": "导出 %(id)s 的导出包已不在本设备上",
    "too many failed authentications from this address; retry later": "该地址认证失败次数过多；请稍后重试",
})

ZH_CN.update({
    # Art. 9 site categories (edge.legal.SITE_CATEGORY_NAMES)
    "state organ": "国家机关",
    "radio or television station, news media": "广播电台、电视台、新闻媒体",
    "telecommunications": "电信单位",
    "postal service": "邮政单位",
    "financial unit (public area)": "金融单位（公共区域）",
    "key construction project": "重点建设工程",
    "dangerous goods (research, production, sale, storage)": "危险物品的科研、生产、销售、储存单位",
    "energy or power facility": "能源、电力设施",
    "water supply facility": "供水设施",
    "heat or gas supply facility": "供热、供气设施",
    "highway": "高速公路",
    "trunk or urban road": "国道、省道及城市道路",
    "street": "街道",
    "metro or rail": "城市轨道交通、铁路",
    "bridge": "桥梁",
    "research unit": "科研单位",
    "school": "学校",
    "hospital": "医院",
    "scenic spot": "旅游景区",
    "park": "公园",
    "airport": "机场",
    "port": "港口",
    "station": "车站",
    "public transport": "公共交通工具",
    "large warehouse": "大型仓储",
    "cultural or sports venue": "文化体育场馆",
    "square": "广场",
    "protected heritage site": "文物保护单位",
    "museum": "博物馆",
    "archive": "档案馆",
    "exhibition centre": "展览馆",
    "tunnel": "隧道",
    "residential area": "居民住宅区",
    "mall or market (public corridors, entrances)": "商场、市场（公共通道、出入口）",
    "restaurant (public area)": "饭店（公共区域）",
    "theatre": "影剧院",
    "entertainment venue (public area)": "娱乐场所（公共区域）",
    "hotel (public area)": "宾馆（公共区域）",
    "internet cafe": "网吧",
    "area with frequent crime or public-order cases": "违法犯罪案件多发区域",
    "other place set by law": "法律法规规定的其他场所",
})
